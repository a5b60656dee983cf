using FairNad.Architecture;
using FairNad.Evaluation.Compilation;
using FairNad.Tests.Shared;

namespace FairNad.Evaluation.Tests.Modules;

/// <summary>
/// Structural verification of LLM-written operators, called in this test process (the harness calls it only in a worker,
/// `fairnad operators verify`; the hostile probes that need a worker are in FairNad.Experiments.Tests).
/// </summary>
public sealed class OperatorVerifierTests
{
    /// <summary>
    /// A residual block with the written operator (out 1.0); at stride 2 it is a gate instead: its output, pooled to
    /// [C,1,1], scales the block input.
    /// </summary>
    private static ArchitectureSpec Spec(string reference, int stride = 1) => new(
        "written",
        new InputSpec(1, 12, 5),
        new StemSpec(StemKind.Conv, 8, 3, 1, "relu"),
        [new StageSpec(1, 8, DownsampleKind.None), new StageSpec(1, 16, DownsampleKind.StridedConv)],
        new BlockSpec([
            new NodeSpec("g", "custom", "input").With("source", reference).With("stride", stride),
            .. stride == 1
                ? [new NodeSpec("sum", "add", "g", "input")]
                : new[] { new NodeSpec("pooled", "global_avg_pool", "g"), new NodeSpec("sum", "mul", "pooled", "input") },
        ], "sum"),
        new HeadSpec("none", 0));

    private static OperatorVerificationReport Verify(string source, int stride = 1)
    {
        TorchRuntime.Configure(1, 0);
        var reference = OperatorSources.Hash(source);
        return OperatorVerifier.Verify(Spec(reference, stride), new Dictionary<string, string> { [reference] = source });
    }

    [Theory]
    [InlineData(nameof(WrittenOperators.Ghost))]
    [InlineData(nameof(WrittenOperators.GatedMlp))]
    public void Verify_ValidOperator_PassesWithMeasuredParametersPerApplication(string name)
    {
        var source = (string)typeof(WrittenOperators).GetField(name)!.GetValue(null)!;

        var report = Verify(source);

        Assert.True(report.Passed, string.Join("\n", report.Problems));
        // One application per stage width: 8 -> 8 at 12 x 12 and 16 -> 16 at 6 x 6.
        Assert.Equal([(8, 8, 12), (16, 16, 6)], report.Operators.Select(o => (o.InChannels, o.OutChannels, o.Height)).Order().ToList());
        Assert.All(report.Operators, o => Assert.True(o.Parameters > 0));
        Assert.True(report.NetworkParameters > report.Operators.Sum(o => o.Parameters));
    }

    [Fact]
    public void Verify_Ghost_ParametersAsCounted()
    {
        var report = Verify(WrittenOperators.Ghost);

        // 8 -> 8: primary 1x1 conv 8 x 4 + BN 2 x 4; cheap depthwise 3x3 over 4 groups 4 x 1 x 9 + BN 2 x 4.
        Assert.Equal(32 + 8 + 36 + 8, report.Operators.Single(o => o.InChannels == 8).Parameters);
    }

    [Fact]
    public void Verify_Ghost_MacsAsCountedByHand()
    {
        var report = Verify(WrittenOperators.Ghost);

        // 8 -> 8 at 12 x 12: primary 1x1 conv 8 -> 4 (4 x 8 per output element), cheap depthwise 3x3 over 4 channels (9 per output element).
        Assert.Equal((4 * 8 * 144) + (4 * 9 * 144), report.Operators.Single(o => o.InChannels == 8).Macs);
        // 16 -> 16 at 6 x 6: 8 x 16 and 8 x 9 per position.
        var wide = report.Operators.Single(o => o.InChannels == 16);
        Assert.Equal((8 * 16 * 36) + (8 * 9 * 36), wide.Macs);
        Assert.Equal(128 + 16 + 72 + 16, wide.Parameters);
    }

    [Fact]
    public void Verify_LayersCalledThroughForward_MacsStillCounted()
    {
        var report = Verify(WrittenOperators.GatedMlp);

        // value and gate 1x1 8 -> 16, project 16 -> 8, each called as layer.forward(x) in the source, at 12 x 12.
        Assert.True(report.Passed, string.Join("\n", report.Problems));
        Assert.Equal(3 * 16 * 8 * 144, report.Operators.Single(o => o.InChannels == 8).Macs);
    }

    [Fact]
    public void Verify_Ghost_ProbesGiveExactEstimateAtUnmeasuredWidth()
    {
        var report = Verify(WrittenOperators.Ghost);
        var reference = OperatorSources.Hash(WrittenOperators.Ghost);
        var probes = new OperatorCostTable();
        foreach (var probe in report.Probes)
        {
            probes.Add(reference, probe.Cost);
        }

        // Four corners (in, out in 16, 32) per stride and input size: 12 x 12 and 6 x 6.
        Assert.Equal(8, report.Probes.Count);
        Assert.Null(probes.Find(reference, 8, 8, 1, 12, 12));
        // The ghost module is bilinear in even channel counts, so the estimate at 8 -> 8 is the measurement.
        var measured = report.Operators.Single(o => o.InChannels == 8).Cost;
        Assert.Equal(measured, probes.Estimates.Find(reference, 8, 8, 1, 12, 12));
    }

    /// <summary>A 1 x 1 convolution and a module class of its own holding a per-channel scale (its own arithmetic).</summary>
    private const string ScaledConv = """
        using System;
        using TorchSharp;
        using static TorchSharp.torch;

        public sealed class ScaledConv : nn.Module<Tensor, Tensor>
        {
            private readonly nn.Module<Tensor, Tensor> conv;
            private readonly ChannelScale scale;

            public ScaledConv(string name, long inChannels, long outChannels, long stride)
                : base(name)
            {
                conv = nn.Conv2d(inChannels, outChannels, 1, stride: stride);
                scale = new ChannelScale("scale", outChannels);
                RegisterComponents();
            }

            public override Tensor forward(Tensor input) => scale.forward(conv.forward(input));
        }

        internal sealed class ChannelScale : nn.Module<Tensor, Tensor>
        {
            private readonly TorchSharp.Modules.Parameter weight;

            public ChannelScale(string name, long channels)
                : base(name)
            {
                weight = nn.Parameter(torch.ones(1, channels, 1, 1));
                RegisterComponents();
            }

            public override Tensor forward(Tensor input) => input * weight;
        }

        """;

    /// <summary>Runs its convolution through a delegate, which no hook sees.</summary>
    private const string DelegateConv = """
        using System;
        using TorchSharp;
        using static TorchSharp.torch;

        public sealed class DelegateConv : nn.Module<Tensor, Tensor>
        {
            private readonly nn.Module<Tensor, Tensor> conv;

            public DelegateConv(string name, long inChannels, long outChannels, long stride)
                : base(name)
            {
                conv = nn.Conv2d(inChannels, outChannels, 1, stride: stride);
                RegisterComponents();
            }

            public override Tensor forward(Tensor input)
            {
                Func<Tensor, Tensor> run = conv.forward;
                return run(input);
            }
        }

        """;

    [Fact]
    public void Verify_OwnModuleWithParameters_ItsArithmeticNotCounted()
    {
        var report = Verify(ScaledConv);

        Assert.True(report.Passed, string.Join("\n", report.Problems));
        var application = report.Operators.Single(o => o.InChannels == 8);
        // The 1 x 1 convolution 8 -> 8 at 12 x 12 only; the scale's 8 parameters count, its products do not.
        Assert.Equal(8 * 8 * 144, application.Macs);
        Assert.Equal(64 + 8 + 8, application.Parameters);
    }

    [Fact]
    public void Verify_LayerRunThroughDelegate_RefusedAsUncountable()
    {
        var report = Verify(DelegateConv);

        Assert.Contains(report.Problems, p => p.Contains("ran through forward(x), which skips the hooks", StringComparison.Ordinal) && p.Contains("(Conv2d)", StringComparison.Ordinal));
    }

    [Fact]
    public void Hooked_ForwardOnOtherObjects_BecomesCallOnSameLines()
    {
        var hooked = CustomOperators.Hooked(WrittenOperators.GatedMlp);

        Assert.Contains("project.call(value.call(x) * torch.sigmoid(gate.call(x)))", hooked, StringComparison.Ordinal);
        Assert.Contains("public override Tensor forward(Tensor input)", hooked, StringComparison.Ordinal);
        Assert.Equal(WrittenOperators.GatedMlp.Split('\n').Length, hooked.Split('\n').Length);
    }

    [Fact]
    public void Verify_IgnoresStride_ShapeProblemNamesContract()
    {
        var report = Verify(WrittenOperators.IgnoresStride, stride: 2);

        // Both applications (one per stage width) break the contract, and each is named.
        Assert.Equal(2, report.Problems.Count);
        Assert.Contains(report.Problems, p => p.Contains("inChannels 8, outChannels 8, stride 2, input 12 x 12): forward returned shape [2, 8, 12, 12], the contract needs [2, 8, 6, 6]", StringComparison.Ordinal));
    }

    [Fact]
    public void Verify_WrongChannels_ShapeProblem()
    {
        var report = Verify(WrittenOperators.WrongChannels);

        Assert.Contains(report.Problems, p => p.Contains("forward returned shape [2, 16, 12, 12], the contract needs [2, 8, 12, 12]", StringComparison.Ordinal));
    }

    [Fact]
    public void Verify_NonFiniteOutput_Problem()
    {
        var report = Verify(WrittenOperators.NonFinite);

        Assert.Contains(report.Problems, p => p.Contains("non-finite", StringComparison.Ordinal));
    }

    [Fact]
    public void Verify_UnusedParameter_GradientProblemNamesIt()
    {
        var report = Verify(WrittenOperators.UnusedParameter);

        Assert.Contains(report.Problems, p => p.Contains("no finite gradient reaches parameter(s) unused.weight", StringComparison.Ordinal));
    }

    [Fact]
    public void Verify_FileDeletion_SandboxRejectionWithLine()
    {
        var report = Verify(WrittenOperators.DeletesFile);

        var problem = Assert.Single(report.Problems);
        Assert.Contains("does not compile", problem, StringComparison.Ordinal);
        Assert.Contains("FNSANDBOX", problem, StringComparison.Ordinal);
        Assert.Contains("line 13", problem, StringComparison.Ordinal);
        Assert.Contains("File.Delete", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_CompileError_DiagnosticWithPosition()
    {
        var source = WrittenOperators.Ghost.Replace("torch.cat([x, cheap.forward(x).narrow(1, 0, rest)], 1)", "torch.cat(x, cheap.forward(x))", StringComparison.Ordinal);

        var report = Verify(source);

        var problem = Assert.Single(report.Problems);
        Assert.Matches(@"operators/[0-9a-f]{64}\.cs\(\d+,\d+\): error CS", problem);
    }

    [Fact]
    public void Verify_NoModuleClass_ContractProblem()
    {
        var report = Verify("public static class Nothing { public static int Two() => 2; }\n");

        Assert.Contains(report.Problems, p => p.Contains("found 0 public classes deriving from nn.Module<Tensor, Tensor>", StringComparison.Ordinal));
    }

    [Fact]
    public void Verify_SourceMissing_ProblemNamesReference()
    {
        var reference = OperatorSources.Hash(WrittenOperators.Ghost);

        var report = OperatorVerifier.Verify(Spec(reference), new Dictionary<string, string>());

        Assert.Equal([$"operator {reference}: no source with this hash was given"], report.Problems);
    }

    [Fact]
    public void Report_JsonRoundTrip_Equal()
    {
        var report = Verify(WrittenOperators.Ghost);

        var read = OperatorVerificationReport.Parse(report.ToJson(), "report.json");

        Assert.Equal(report.Problems, read.Problems);
        Assert.Equal(report.Operators, read.Operators);
        Assert.Equal(report.Probes, read.Probes);
        Assert.NotEmpty(read.Probes);
        Assert.Equal(report.NetworkParameters, read.NetworkParameters);
    }
}
