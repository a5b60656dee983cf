using FairNad.Architecture;
using FairNad.Evaluation.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace FairNad.Evaluation.Tests.Modules;

/// <summary>The stage-wise references built and trained: analytic counts against TorchSharp's at 32, 28 and 16 pixels.</summary>
public sealed class StageWiseNetworkTests
{
    public static TheoryData<string, int> Cases
    {
        get
        {
            var data = new TheoryData<string, int>();
            foreach (var name in (string[])["mobilevit", "efficientformer", "swin"])
            {
                foreach (var resolution in (int[])[32, 28, 16])
                {
                    data.Add(name, resolution);
                }
            }

            return data;
        }
    }

    private static InputSpec InputFor(int resolution) => resolution == 28 ? new(1, 28, 10) : new(3, resolution, 10);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Build_StageWiseReference_AnalyticParametersForwardAndATrainingStep(string name, int resolution)
    {
        TorchRuntime.Configure(1, 3);
        var spec = ReferenceArchitectures.Get(name, InputFor(resolution));
        var analysis = ArchitectureAnalyzer.Analyze(spec);
        using var network = InterpretedNetwork.Build(spec);

        Assert.Equal(analysis.Parameters, network.parameters().Sum(p => p.numel()));
        Assert.Equal(spec.Stages.Count, network.Plan.Stages.Select(s => s.Block.Input.H).Count());

        network.train();
        using var optimizer = optim.SGD(network.parameters(), 0.05);
        using var input = torch.randn(4, spec.Input.Channels, resolution, resolution, generator: new Generator(7));
        using var labels = torch.tensor(new long[] { 0, 1, 2, 3 });
        using var output = network.forward(input);
        Assert.Equal(new long[] { 4, 10 }, output.shape);
        using var loss = nn.functional.cross_entropy(output, labels);
        loss.backward();
        Assert.Empty(network.named_parameters().Where(p => p.parameter.grad is null).Select(p => p.name));
        optimizer.step();
        Assert.True(float.IsFinite(loss.item<float>()));
        Assert.True(network.parameters().All(p => p.isfinite().all().item<bool>()), $"{name} at {resolution}: a weight is not finite after one step");
    }

    [Theory]
    [InlineData("mobilevit", 20_000)]
    [InlineData("efficientformer", 100_000)]
    [InlineData("swin", 20_000)]
    [InlineData("swin", 100_000)]
    public void Build_ScaledStageWiseReference_AnalyticParameters(string name, long budget)
    {
        TorchRuntime.Configure(1, 3);
        var scaled = WidthScaler.ScaleToBudget(ReferenceArchitectures.Get(name, InputFor(28)), budget);
        using var network = InterpretedNetwork.Build(scaled.Spec);

        Assert.Equal(scaled.Parameters, network.parameters().Sum(p => p.numel()));
        network.eval();
        using var output = network.forward(torch.randn(2, 1, 28, 28, generator: new Generator(5)));
        Assert.True(output.isfinite().all().item<bool>());
    }

    [Fact]
    public void WindowAttention_ShiftedAtUnpaddedSize_MasksWrappedPositions()
    {
        // With a shift, a change at the top-left corner must not reach the bottom-right window's positions (they were rolled
        // next to each other but are masked apart); without the mask they would share a window.
        TorchRuntime.Configure(1, 9);
        using var layer = Layers.WindowAttention(8, 2, 4, 2, true);
        layer.eval();
        using var x = torch.randn(1, 8, 8, 8, generator: new Generator(1));
        using var changed = x.clone();
        changed.select(2, 0).select(2, 0).zero_();

        using var a = layer.forward(x);
        using var b = layer.forward(changed);

        static Tensor At(Tensor t, int row, int column) => t.select(2, row).select(2, column);
        Assert.True(At(a, 7, 7).eq(At(b, 7, 7)).all().item<bool>(), "the shifted window leaked across the wrapped edge");
        Assert.False(At(a, 0, 1).eq(At(b, 0, 1)).all().item<bool>(), "a neighbour in the same window did not see the change");
    }
}
