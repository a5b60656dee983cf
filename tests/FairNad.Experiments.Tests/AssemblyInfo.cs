// Real training in these tests sets libtorch's process-wide thread count and seed: run test classes one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
