using FairNad.Architecture;
using FairNad.Architecture.Models;
using FairNad.Evaluation.Modules;
using TorchSharp;

namespace FairNad.Evaluation.Tests.Modules;

public sealed class Nb201SpaceTests
{
    private static IEnumerable<string> AllCells() => Nb201.AllCells();

    [Fact]
    [Trait("Category", "Slow")]
    public void Build_EveryNb201Cell_ForwardPassAndParameterCountMatchAnalysis()
    {
        TorchRuntime.Configure(1, 0);
        using var input = torch.randn([1, 3, 32, 32], generator: new torch.Generator(0));
        var failures = new List<string>();
        foreach (var cell in AllCells())
        {
            using var scope = torch.NewDisposeScope();
            var plan = NetworkPlanner.Plan(Nb201.ToSpec(cell, Nb201.InputFor("cifar10")));
            using var network = new InterpretedNetwork(plan);
            network.eval();
            using var _ = torch.no_grad();
            var logits = network.forward(input);
            var parameters = network.parameters().Sum(p => p.numel());
            if (parameters != plan.Analysis.Parameters || !logits.shape.SequenceEqual([1L, 10L]) || !logits.isfinite().all().item<bool>())
            {
                failures.Add($"{cell}: {parameters} vs {plan.Analysis.Parameters} parameters, output {string.Join("x", logits.shape)}");
            }
        }

        Assert.Empty(failures);
    }

    [Fact]
    public void Build_SampleOfNb201Cells_ForwardPassAndParameterCountMatchAnalysis()
    {
        TorchRuntime.Configure(1, 0);
        using var input = torch.randn([2, 3, 16, 16], generator: new torch.Generator(0));
        foreach (var cell in AllCells().Where((_, i) => i % 1250 == 7))
        {
            using var scope = torch.NewDisposeScope();
            var plan = NetworkPlanner.Plan(Nb201.ToSpec(cell, Nb201.InputFor("imagenet16-120")));
            using var network = new InterpretedNetwork(plan);
            network.eval();
            using var _ = torch.no_grad();

            Assert.Equal([2L, 120L], network.forward(input).shape);
            Assert.Equal(plan.Analysis.Parameters, network.parameters().Sum(p => p.numel()));
        }
    }
}
