"""Reference replication of "Three Factors Influencing Minima in SGD" (Jastrzębski et al., 2017).

How data flows (one way)::

    profile YAML (profiles/)                      smoke | laptop | gpu | paper | your own file
      -> a chapter's parameters (params)          validated before any compute; one-line errors
      -> frozen run configs (chapters/<name>/experiment.py, train.TrainConfig, config.RunConfig)
      -> the result store (store, runs)            computed once, keyed by config + code digest
      -> verdicts (chapters/<name>/claims.py)      claims.Verdict records, saved beside the results
      -> figures and pages (chapters/<name>/figures.py and page.py, book/<name>.ipynb)
      -> the claims page and the introduction      gathered from the saved verdicts

One job per module:

- ``paths``       where data, results and the book build live (overridable by environment)
- ``provenance``  code version, library versions, device: stamped on every stored result
- ``config``      frozen, validated, hashable run configurations
- ``store``       content-addressed result store (atomic, verified, resumable)
- ``runs``        grids of training runs through the store (vmapped ensembles where possible)
- ``profiles``    smoke | laptop | gpu | paper parameter sets, as YAML (read here, checked by the registry)
- ``params``      chapter parameters: profile + explicit overrides, validated before compute; the
                  parameters and cross-parameter rules several chapters share
- ``data``        datasets as normalized device tensors, verified by content checksum
- ``models``      MLPs, VGG-11, ResNet-20/32/56, a small CNN; seeded, vmap-compatible
- ``schedules``   per-epoch learning-rate and batch-size schedules
- ``train``       one training config and one SGD loop; ``ensemble`` vmaps it over seeds and η
- ``hessian``     Hessian-vector products, spectra, traces, the gradient covariance, dense checks
- ``measure``     the width measures of a stored trained network, stored themselves
- ``sde``         SGD as a stochastic differential equation: closed forms and simulators
- ``stats``       intervals and the rule helpers (trends, slopes, equivalence) behind verdicts
- ``claims``      the ``Verdict`` record and the verdict files the claims page gathers
- ``figures``     the shared figure style, colours, intervals, captions, downloadable numbers
- ``wording``     how the pages write numbers (10⁻³ … 10⁵ plain, powers of ten outside) and outcomes
- ``chapters``    one folder per book chapter (below)
- ``notebook``    the few helpers a chapter notebook calls (``kernel``: the page it is on)
- ``page``        glues a chapter page's mapping of numbers into the notebook
- ``book``        execute chapters with papermill, build the HTML
- ``cli``         ``python -m replication ...``
- ``readme``      the README's chapter table, generated from ``_toc.yml`` and each ``ABOUT``

Adding a chapter ``<name>`` touches: the folder ``chapters/<name>/`` (``__init__.py`` with ABOUT,
SPEC, ``compute``, ``verdicts`` and ``plan``; ``experiment.py``; ``rules.yaml``; ``claims.py``;
``figures.py``; ``page.py``), the notebook ``book/<name>.ipynb`` (its parameters cell written by
``python -m replication notebook-params <name>``), ``tests/test_<name>.py``, one line
``- file: book/<name>`` in ``_toc.yml`` (the only list of chapters) and one section ``<name>:`` in each
profile file.  Nothing else lists chapters: the CLI, the book command, the introduction's table of
contents, the claims page and the README's chapter table read the registry.  The contract in full:
``chapters/__init__.py`` and ``docs/chapter-contract.md``.

Imports point down the floors of ``tests/test_import_graph.py`` (foundation, parameters, store,
data, training, runs, chapters, pages, command line) and never loop.
"""

__version__ = "0.1.0"
