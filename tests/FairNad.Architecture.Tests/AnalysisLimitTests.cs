namespace FairNad.Architecture.Tests;

/// <summary>Absurd sizes are validation errors that name where they are; no count ever wraps around.</summary>
public sealed class AnalysisLimitTests
{
    /// <summary>One stage of a residual block with multi-head self-attention, at a chosen width and resolution.</summary>
    private static ArchitectureSpec Attention(int width, int resolution, double out1 = 1.0) => new(
        "attention",
        new InputSpec(3, resolution, 10),
        new StemSpec(StemKind.Conv, width, 3, 1, "relu"),
        [new StageSpec(1, width, DownsampleKind.None)],
        new BlockSpec([
            new NodeSpec("wide", "conv", "input").With("kernel", 1).With("out", out1),
            new NodeSpec("narrow", "conv", "wide").With("kernel", 1),
            new NodeSpec("attn", "mhsa", "narrow"),
            new NodeSpec("sum", "add", "attn", "input"),
        ], "sum"),
        new HeadSpec("none", 0));

    [Fact]
    public void Analyze_BillionChannels_TooLargeErrorsNamingEachField()
    {
        var spec = Attention(1_000_000_000, 32);

        var analysis = ArchitectureAnalyzer.Analyze(spec);

        Assert.False(analysis.IsValid);
        Assert.Equal((0L, 0L), (analysis.Parameters, analysis.Macs));
        var width = Assert.Single(analysis.Errors, e => e.Location == "stages[0].width");
        Assert.Equal("too-large", width.Rule);
        Assert.Equal("stages[0].width: the width of stage 0 is 1,000,000,000; the limit is 65,536", width.ToString());
        Assert.Contains(analysis.Errors, e => e.Location == "stem.channels" && e.Rule == "too-large");
    }

    [Theory]
    [InlineData("input.channels")]
    [InlineData("input.resolution")]
    [InlineData("input.classes")]
    [InlineData("stem.kernel")]
    [InlineData("stem.stride")]
    [InlineData("stages[0].blocks")]
    public void Analyze_FieldBeyondItsLimit_TooLargeErrorStatesTheLimit(string field)
    {
        var spec = Attention(16, 32);
        spec = field switch
        {
            "input.channels" => spec with { Input = spec.Input with { Channels = 65_537 } },
            "input.resolution" => spec with { Input = spec.Input with { Resolution = 16_385 } },
            "input.classes" => spec with { Input = spec.Input with { Classes = int.MaxValue } },
            "stem.kernel" => spec with { Stem = spec.Stem with { Kernel = 65 } },
            "stem.stride" => spec with { Stem = spec.Stem with { Stride = 1_000 } },
            _ => spec with { Stages = [spec.Stages[0] with { Blocks = 1_025 }] },
        };

        var error = Assert.Single(ArchitectureAnalyzer.Analyze(spec).Errors, e => e.Rule == "too-large");

        Assert.Equal(field, error.Location);
        Assert.Matches(@"; the limit is (65,536|16,384|1,048,576|64|1,024)$", error.Message);
    }

    [Fact]
    public void Analyze_NodeWiderThanTheNodeLimit_ErrorNamesTheNode()
    {
        var error = Assert.Single(ArchitectureAnalyzer.Analyze(Attention(65_536, 8, out1: 64)).Errors);

        Assert.Equal(("wide", "conv", "too-large"), (error.NodeId, error.Op, error.Rule));
        Assert.StartsWith("node 'wide' (conv): its output has 4,194,304 channels; a node may produce at most 1,048,576", error.ToString());
    }

    [Fact]
    public void Analyze_AttentionMacsBeyond64Bits_OverflowErrorNamesTheNode()
    {
        // 16,384² tokens: the attention matrix alone is 2 x 2^56 x 2^16 multiply-accumulates.
        var analysis = ArchitectureAnalyzer.Analyze(Attention(65_536, 16_384));

        var error = Assert.Single(analysis.Errors);
        Assert.Equal(("attn", "mhsa", "overflow"), (error.NodeId, error.Op, error.Rule));
        Assert.Contains("9,223,372,036,854,775,807", error.Message);
        Assert.Equal("stages[0].block.nodes[2]", error.Location);
        Assert.Equal(0, analysis.Parameters);
    }

    [Fact]
    public void Analyze_LargestWidthsWithinLimits_ExactCounts()
    {
        var analysis = ArchitectureAnalyzer.Analyze(Attention(65_536, 4));

        Assert.True(analysis.IsValid, string.Join("; ", analysis.Errors));
        const long c = 65_536;
        var stem = (3 * c * 9) + (2 * c);
        var block = (c * c) + (c * c) + (4 * c * c) + (4 * c);
        Assert.Equal(stem + block + (c * 10) + 10, analysis.Parameters);
    }

    [Fact]
    public void ScaleToBudget_BillionChannels_RefusesNamingTheField()
    {
        var error = Assert.Throws<WidthScalingException>(() => WidthScaler.ScaleToBudget(Attention(1_000_000_000, 32), 20_000));

        Assert.StartsWith("attention cannot be scaled: ", error.Message);
        Assert.Contains("stages[0].width: the width of stage 0 is 1,000,000,000; the limit is 65,536", error.Message);
        Assert.IsAssignableFrom<InvalidOperationException>(error);
    }

    [Theory]
    [InlineData(1e12, 1)]
    [InlineData(1e12, 8)]
    [InlineData(1e-12, 8)]
    public void Scale_ExtremeMultiplier_WidthsStayWithinLimits(double multiplier, int divisor)
    {
        var scaled = WidthScaler.Scale(ReferenceArchitectures.Get("resnet"), multiplier, divisor);

        var widths = scaled.Stages.Select(s => s.Width).Append(scaled.Stem.Channels).ToList();
        Assert.All(widths, w => Assert.InRange(w, divisor, ArchitectureLimits.MaxWidth));
        Assert.All(widths, w => Assert.Equal(0, w % divisor));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1_025)]
    public void ScaleToBudget_DivisorOutOfRange_Refused(int divisor)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => WidthScaler.ScaleToBudget(ReferenceArchitectures.Get("resnet"), 100_000, divisor));

        Assert.Contains("the width divisor must lie in [1, 1,024]", error.Message);
    }
}
