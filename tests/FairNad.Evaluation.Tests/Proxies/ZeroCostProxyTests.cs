using FairNad.Architecture;
using FairNad.Architecture.Models;
using FairNad.Evaluation.Modules;
using FairNad.Evaluation.Proxies;
using TorchSharp;
using static TorchSharp.torch;

namespace FairNad.Evaluation.Tests.Proxies;

public sealed class ZeroCostProxyTests
{
    private static NetworkPlan Cell(string op, int cells = 1) =>
        NetworkPlanner.Plan(Nb201.ToSpec(Nb201.FormatEdges(Enumerable.Repeat(op, 6).ToArray()), Nb201.InputFor("cifar10"), cellsPerStage: cells));

    [Fact]
    public void Synflow_SameSeed_SameScore()
    {
        TorchRuntime.Configure(1, 0);

        Assert.Equal(ZeroCostProxies.Synflow(Cell("nor_conv_3x3"), 1), ZeroCostProxies.Synflow(Cell("nor_conv_3x3"), 1));
    }

    [Fact]
    public void Synflow_MoreAndLargerConvolutions_HigherScore()
    {
        TorchRuntime.Configure(1, 0);

        var conv3 = ZeroCostProxies.Synflow(Cell("nor_conv_3x3"), 1);
        var conv1 = ZeroCostProxies.Synflow(Cell("nor_conv_1x1"), 1);
        var none = ZeroCostProxies.Synflow(Cell("none"), 1);

        Assert.True(conv3 > conv1, $"{conv3} vs {conv1}");
        Assert.True(conv1 > none, $"{conv1} vs {none}");
        Assert.True(double.IsFinite(conv3));
    }

    /// <summary>
    /// The reference's prunable copy written out by hand with functional ops, on the same (absolute, double) weights: stem
    /// convolution without batch norm; all-skip cells (node 3 = x + x + 2x = 4x); NB201's reduction block whose two batch
    /// norms normalise with the statistics of the one input (training mode); ReLU, global mean and the linear classifier.
    /// With the reduction blocks' batch norm in eval mode (the earlier recipe) the score differs by orders of magnitude.
    /// </summary>
    [Fact]
    public void Synflow_AllSkipCells_EqualsReferenceCopyWrittenOutByHand()
    {
        TorchRuntime.Configure(1, 0);
        var plan = NetworkPlanner.Plan(Nb201.ToSpec(Nb201.FormatEdges(Enumerable.Repeat("skip_connect", 6).ToArray()), Nb201.InputFor("cifar10"), channels: 4, cellsPerStage: 1));
        const long seed = 5;

        torch.manual_seed(seed);
        using var model = new InterpretedNetwork(plan);
        var byName = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().abs().to(ScalarType.Float64).requires_grad_(true));
        Tensor Weight(string name) => byName.TryGetValue(name, out var w) ? w : throw new KeyNotFoundException($"{name} not among {string.Join(", ", byName.Keys)}");
        static Tensor NormaliseWithBatchStatistics(Tensor x) =>
            (x - x.mean([0, 2, 3], keepdim: true)) / (x.var([0, 2, 3], unbiased: false, keepdim: true) + 1e-5).sqrt();

        var x = nn.functional.conv2d(torch.ones([1, 3, 32, 32], dtype: ScalarType.Float64), Weight("stem.0.weight"), padding: [1, 1]) * 4;
        foreach (var down in new[] { "down1", "down2" })
        {
            var a = NormaliseWithBatchStatistics(nn.functional.conv2d(nn.functional.relu(x), Weight($"{down}.conv_a.1.weight"), strides: [2, 2], padding: [1, 1]));
            a = NormaliseWithBatchStatistics(nn.functional.conv2d(nn.functional.relu(a), Weight($"{down}.conv_b.1.weight"), padding: [1, 1]));
            var shortcut = nn.functional.conv2d(nn.functional.avg_pool2d(x, 2, 2), Weight($"{down}.shortcut.1.weight"));
            x = (shortcut + a) * 4;
        }

        var output = nn.functional.linear(nn.functional.relu(x).mean([2, 3]), Weight("head.classifier.weight"), Weight("head.classifier.bias"));
        output.sum().backward();
        var scored = new[] { "stem.0.weight", "down1.conv_a.1.weight", "down1.conv_b.1.weight", "down1.shortcut.1.weight", "down2.conv_a.1.weight", "down2.conv_b.1.weight", "down2.shortcut.1.weight", "head.classifier.weight" };
        var expected = Math.Log10(scored.Sum(n => (Weight(n) * Weight(n).grad!).abs().sum().item<double>()));

        Assert.Equal(expected, ZeroCostProxies.Synflow(plan, seed), 9);
    }

    [Fact]
    public void SynflowCopy_BatchNorms_CellAndHeadExactIdentityReductionTraining()
    {
        TorchRuntime.Configure(1, 0);
        torch.manual_seed(1);
        using var model = new InterpretedNetwork(Cell("nor_conv_3x3"));
        var reductionNorms = model.named_modules().Where(m => m.name.StartsWith("down", StringComparison.Ordinal) && m.module is TorchSharp.Modules.BatchNorm2d).Select(m => m.module).ToHashSet();

        ZeroCostProxies.SynflowCopy(model);

        var norms = model.named_modules().Select(m => m.module).OfType<TorchSharp.Modules.BatchNorm2d>().ToList();
        Assert.Equal(4, reductionNorms.Count);
        Assert.True(norms.Count > reductionNorms.Count);
        foreach (var norm in norms)
        {
            if (reductionNorms.Contains(norm))
            {
                Assert.True(norm.training);
            }
            else
            {
                Assert.False(norm.training);
                var channels = (int)norm.weight!.shape[0];
                using var x = torch.randn([2, channels, 3, 3], dtype: ScalarType.Float64, generator: new torch.Generator(7));
                using (torch.no_grad())
                {
                    Assert.True(torch.eq(x, norm.call(x)).all().item<bool>(), "a batch norm outside the reduction blocks must be an exact identity");
                }
            }
        }
    }

    [Fact]
    public void SynflowCopy_CellConvolutions_PositiveBiasDoubleAndProductNetworkUnchanged()
    {
        TorchRuntime.Configure(1, 0);
        var plan = Cell("nor_conv_1x1");
        torch.manual_seed(2);
        using var product = new InterpretedNetwork(plan);
        torch.manual_seed(2);
        using var copy = new InterpretedNetwork(plan);

        ZeroCostProxies.SynflowCopy(copy);

        static List<(string Name, TorchSharp.Modules.Conv2d Conv)> CellConvolutions(InterpretedNetwork network) =>
            network.named_modules().Where(m => m.name.StartsWith("stage", StringComparison.Ordinal) && m.module is TorchSharp.Modules.Conv2d).Select(m => (m.name, (TorchSharp.Modules.Conv2d)m.module)).ToList();
        Assert.Equal(3 * 6, CellConvolutions(copy).Count);
        Assert.All(CellConvolutions(product), c => Assert.Null(c.Conv.bias));
        Assert.All(CellConvolutions(copy), c => Assert.True(c.Conv.bias is { } b && b.dtype == ScalarType.Float64 && b.min().item<double>() >= 0 && b.max().item<double>() > 0, c.Name));
        Assert.All(copy.named_modules().Where(m => m.name.StartsWith("down", StringComparison.Ordinal)).Select(m => m.module).OfType<TorchSharp.Modules.Conv2d>(), c => Assert.Null(c.bias));
        Assert.All(copy.parameters(), p => Assert.True(p.dtype == ScalarType.Float64 && p.min().item<double>() >= 0));
        foreach (var ((name, original), (_, absolute)) in product.named_parameters().Zip(copy.named_parameters().Where(p => !p.name.EndsWith(".bias", StringComparison.Ordinal) || product.named_parameters().Any(q => q.name == p.name))))
        {
            Assert.True(torch.eq(original.detach().abs().to(ScalarType.Float64), absolute.detach()).all().item<bool>(), $"{name}: the copy's weights are the product network's, made absolute");
        }
    }

    [Fact]
    public void Compute_WithData_EveryProxyFiniteAndDeterministic()
    {
        TorchRuntime.Configure(1, 0);
        var plan = Cell("nor_conv_3x3");
        using var inputs = torch.randn([16, 3, 32, 32], generator: new torch.Generator(3));
        using var labels = torch.arange(16, dtype: torch.int64).remainder(10);

        var first = ZeroCostProxies.Compute(plan, inputs, labels, 4);
        var second = ZeroCostProxies.Compute(plan, inputs, labels, 4);

        Assert.Equal(first, second);
        Assert.True(first.GradNorm > 0 && first.Snip > 0);
        Assert.True(double.IsFinite(first.Naswot!.Value));
    }

    [Fact]
    public void Naswot_DistinctInputs_HigherThanIdenticalInputs()
    {
        TorchRuntime.Configure(1, 0);
        var plan = Cell("nor_conv_3x3");
        using var distinct = torch.randn([8, 3, 32, 32], generator: new torch.Generator(3));
        using var same = distinct[0].unsqueeze(0).expand(8, -1, -1, -1).contiguous();

        Assert.True(ZeroCostProxies.Naswot(plan, distinct, 1) > ZeroCostProxies.Naswot(plan, same, 1));
    }

    [Theory]
    [InlineData(new double[] { 1, 2, 3, 4 }, new double[] { 10, 20, 30, 40 }, 1.0)]
    [InlineData(new double[] { 1, 2, 3, 4 }, new double[] { 4, 3, 2, 1 }, -1.0)]
    [InlineData(new double[] { 1, 1, 2, 3 }, new double[] { 5, 6, 7, 8 }, 0.9486832980505138)]
    public void Spearman_KnownCases(double[] x, double[] y, double expected)
    {
        Assert.Equal(expected, ZeroCostProxies.Spearman(x, y), 12);
    }
}
