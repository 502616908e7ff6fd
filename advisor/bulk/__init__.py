"""Many advisories at once, and the questions asked the other way round.

- select: which models, GPUs and precisions the filters pick (globs or lists).
- slugs: safe, unique file names for ids, whatever they hold.
- files: atomic, write-if-changed file output and the clean-up of interrupted runs.
- pages: one page (markdown or HTML) and its index row, rendered in a worker.
- workers: worker processes, one rules engine each.
- site: the index page and the static HTML site.
- generate: the whole run (`advisor generate`), returning a summary.
- inverse: the models a GPU runs (`advisor fit`) and the GPUs a model runs on (`advisor gpus`).
"""
