"""The engine split into keyed stages, for the distributed runner.

See docs/design-distributed-stages.md. Each stage task owns one partition of its key
space, takes records from upstream partitions, and processes them in one canonical
order, (event time, event id, part), up to the least watermark over its upstream
partitions; so a feed gives the same alerts whatever the partitioning and interleaving,
and the same alerts as the embedded engine.
"""
