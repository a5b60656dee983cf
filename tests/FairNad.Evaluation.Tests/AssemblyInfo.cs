// libtorch's default generator and thread count are process-wide: tests that seed it and build models must not interleave.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
