using FairNad.Architecture;
using FairNad.Architecture.Models;
using FairNad.Evaluation.Compilation;
using FairNad.Evaluation.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace FairNad.Evaluation.Tests.Modules;

/// <summary>The test specs' generated code, compiled once into one assembly.</summary>
public sealed class GeneratedSpecsFixture : IDisposable
{
    public GeneratedSpecsFixture()
    {
        Specs = TestSpecs.All().ToDictionary(s => s.Name, StringComparer.Ordinal);
        Assembly = CandidateCompiler.Compile("FairNad.Tests.Generated", Specs.Values.Select(s => new SourceFile(s.Name + ".cs", TorchSharpCodeWriter.Write(s))));
    }

    public IReadOnlyDictionary<string, ArchitectureSpec> Specs { get; }

    public CompiledAssembly Assembly { get; }

    public void Dispose() => Assembly.Dispose();
}

public sealed class EquivalenceTests(GeneratedSpecsFixture generated) : IClassFixture<GeneratedSpecsFixture>
{
    public static TheoryData<string> SpecNames => new(TestSpecs.All().Select(s => s.Name));

    [Theory]
    [MemberData(nameof(SpecNames))]
    public void InterpretedAndGenerated_SameSeed_SameWeightsAndOutputs(string name)
    {
        var spec = generated.Specs[name];
        TorchRuntime.Configure(1, 11);
        using var interpreted = InterpretedNetwork.Build(spec);
        TorchRuntime.Configure(1, 11);
        using var compiled = generated.Assembly.CreateNetwork(spec.Id);

        var a = interpreted.state_dict();
        var b = compiled.state_dict();
        Assert.Equal(a.Keys, b.Keys);
        foreach (var key in a.Keys)
        {
            Assert.True(a[key].shape.SequenceEqual(b[key].shape) && a[key].eq(b[key]).all().item<bool>(), $"{name}: weights of {key} differ");
        }

        Assert.Equal(ArchitectureAnalyzer.Analyze(spec).Parameters, interpreted.parameters().Sum(p => p.numel()));
        Assert.Equal(interpreted.parameters().Sum(p => p.numel()), compiled.parameters().Sum(p => p.numel()));

        interpreted.eval();
        compiled.eval();
        using var input = Input(spec, 3);
        using var x = interpreted.forward(input);
        using var y = compiled.forward(input);
        Assert.Equal(new long[] { 3, spec.Input.Classes }, x.shape);
        Assert.True(x.isfinite().all().item<bool>());
        Assert.True(x.eq(y).all().item<bool>(), $"{name}: outputs differ by up to {(x - y).abs().max().item<float>()}");
    }

    [Theory]
    [MemberData(nameof(SpecNames))]
    public void Generated_LoadsInterpretedWeights_SameOutputs(string name)
    {
        var spec = generated.Specs[name];
        TorchRuntime.Configure(1, 5);
        using var interpreted = InterpretedNetwork.Build(spec);
        TorchRuntime.Configure(1, 6);
        using var compiled = generated.Assembly.CreateNetwork(spec.Id);
        compiled.load_state_dict(interpreted.state_dict());

        interpreted.eval();
        compiled.eval();
        using var input = Input(spec, 2);
        using var x = interpreted.forward(input);
        using var y = compiled.forward(input);
        Assert.True(x.eq(y).all().item<bool>());
    }

    [Fact]
    public void Interpreted_TrainingStep_GradientsReachEveryParameter()
    {
        var spec = generated.Specs["every-operator"];
        TorchRuntime.Configure(1, 2);
        using var network = InterpretedNetwork.Build(spec);
        network.train();
        using var input = Input(spec, 4);
        using var loss = nn.functional.cross_entropy(network.forward(input), torch.tensor(new long[] { 0, 1, 2, 3 }));
        loss.backward();

        var missing = network.named_parameters().Where(p => p.parameter.grad is null).Select(p => p.name).ToList();
        Assert.Empty(missing);
        Assert.True(float.IsFinite(loss.item<float>()));
    }

    private static Tensor Input(ArchitectureSpec spec, int batch)
    {
        var generator = new torch.Generator(1234);
        return torch.randn([batch, spec.Input.Channels, spec.Input.Resolution, spec.Input.Resolution], generator: generator);
    }
}
