"""Reference replication of "Three Factors Influencing Minima in SGD" (Jastrzębski et al., 2017).

One module per job:

- ``paths``       where data, results and the book build live (overridable by environment)
- ``provenance``  code version, library versions, device: stamped on every stored result
- ``store``       content-addressed result store (atomic, verified, resumable)
- ``config``      frozen, validated, hashable run configurations
- ``profiles``    smoke | laptop | gpu | paper parameter sets, as YAML
- ``params``      chapter parameters: profile + explicit overrides, validated before compute
- ``data``        datasets as normalized device tensors, verified by content checksum
- ``sde``         SGD as a stochastic differential equation: closed forms and simulators
- ``stats``       confidence intervals
- ``plots``       figures with provenance footers
- ``chapters``    one module per book chapter: its parameters and its compute
- ``notebook``    the few helpers a chapter notebook calls
- ``book``        execute chapters with papermill, build the HTML
- ``cli``         ``python -m replication ...``
"""

__version__ = "0.1.0"
