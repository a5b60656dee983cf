using FairNad.Architecture;
using FairNad.Architecture.Models;
using FairNad.Evaluation.Proxies;
using TorchSharp;

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
