using FairNad.Architecture;

namespace FairNad.Evaluation.Tests.Modules;

/// <summary>Specs that together use every operator, stem kind, downsampling kind and head option.</summary>
internal static class TestSpecs
{
    /// <summary>One block that uses every operator of the library at least once.</summary>
    public static ArchitectureSpec EveryOperator() => new(
        "every-operator",
        new InputSpec(3, 16, 7),
        new StemSpec(StemKind.Conv, 16, 3, 1, "silu"),
        [new StageSpec(1, 16, DownsampleKind.None), new StageSpec(1, 32, DownsampleKind.StridedConv)],
        new BlockSpec(
        [
            new NodeSpec("conv", "conv", "input").With("dilation", 2).With("bias", true),
            new NodeSpec("nor", "relu_conv_bn", "input").With("kernel", 1),
            new NodeSpec("sep", "sep_conv", "input").With("kernel", 5).With("act", "mish"),
            new NodeSpec("ir", "inverted_residual", "input").With("expand", 2.0),
            new NodeSpec("ir1", "inverted_residual", "input").With("expand", 1.0).With("act", "leaky_relu"),
            new NodeSpec("maxp", "max_pool", "input"),
            new NodeSpec("avgp", "avg_pool", "input").With("kernel", 5),
            new NodeSpec("skip", "identity", "input"),
            new NodeSpec("none", "zero", "input"),
            new NodeSpec("sum1", "add", "conv", "nor", "sep", "ir", "ir1"),
            new NodeSpec("sum2", "add", "maxp", "avgp", "skip", "none"),
            new NodeSpec("bn", "batch_norm", "sum1"),
            new NodeSpec("ln", "layer_norm", "sum2"),
            new NodeSpec("inorm", "instance_norm", "sum1"),
            new NodeSpec("gn", "group_norm", "sum2").With("groups", 4),
            new NodeSpec("gelu", "act", "bn").With("fn", "gelu"),
            new NodeSpec("se", "se", "gelu"),
            new NodeSpec("eca", "eca", "ln").With("kernel", 5),
            new NodeSpec("sa", "spatial_attention", "inorm").With("kernel", 3),
            new NodeSpec("half1", "split", "se"),
            new NodeSpec("half2", "split", "gn").With("part", 1),
            new NodeSpec("narrow", "conv", "eca").With("kernel", 1).With("out", 0.25),
            new NodeSpec("quarter", "split", "sa").With("parts", 4).With("part", 3),
            new NodeSpec("cat", "concat", "half1", "half2"),
            new NodeSpec("cat2", "concat", "narrow", "quarter"),
            new NodeSpec("wide", "channel_mlp", "cat2").With("out", 0.5).With("act", "hardswish"),
            new NodeSpec("mix", "concat", "cat", "wide"),
            new NodeSpec("grouped", "conv", "mix").With("groups", 2).With("kernel", 1),
            new NodeSpec("shuffle", "channel_shuffle", "mix").With("groups", 4),
            new NodeSpec("attn", "mhsa", "shuffle").With("heads", 2),
            new NodeSpec("tok", "token_mlp", "attn"),
            new NodeSpec("pos", "pos_embed", "tok"),
            new NodeSpec("scale", "layer_scale", "pos").With("init", 0.5),
            new NodeSpec("gap", "global_avg_pool", "scale"),
            new NodeSpec("gatefc", "conv", "gap").With("kernel", 1).With("bias", true).With("out", 1.5),
            new NodeSpec("gate", "act", "gatefc").With("fn", "hardsigmoid"),
            new NodeSpec("gated", "mul", "scale", "gate"),
            new NodeSpec("drop", "dropout", "gated").With("p", 0.2),
            new NodeSpec("dpath", "drop_path", "drop").With("p", 0.2),
            new NodeSpec("relu6", "act", "dpath").With("fn", "relu6"),
            new NodeSpec("tanh", "act", "relu6").With("fn", "tanh"),
            new NodeSpec("sig", "act", "tanh").With("fn", "sigmoid"),
            new NodeSpec("relu", "act", "sig"),
            new NodeSpec("proj", "conv", "relu").With("kernel", 1),
            new NodeSpec("sum3", "add", "proj", "input", "grouped"),
            new NodeSpec("out", "act", "sum3").With("fn", "silu"),
        ], "out"),
        new HeadSpec("gelu", 0.3));

    /// <summary>A patchify stem with patch merging and residual reduction between stages.</summary>
    public static ArchitectureSpec Downsamplers() => new(
        "downsamplers",
        new InputSpec(1, 28, 10),
        new StemSpec(StemKind.Patchify, 8, 2, 2, "none"),
        [
            new StageSpec(1, 8, DownsampleKind.None),
            new StageSpec(2, 16, DownsampleKind.ResidualReduction),
            new StageSpec(1, 24, DownsampleKind.PatchMerging),
            new StageSpec(1, 32, DownsampleKind.AvgPoolConv),
        ],
        new BlockSpec([new NodeSpec("sep", "sep_conv", "input").With("kernel", 3), new NodeSpec("sum", "add", "sep", "input")], "sum"),
        new HeadSpec("none", 0));

    /// <summary>
    /// A stage-wise spec at 28 x 28: a convolutional shared block, a stage with shifted window attention whose window (4)
    /// does not divide the resolution (7), and a last stage that reuses the previous stage's block at 4 x 4.
    /// </summary>
    public static ArchitectureSpec StageWise()
    {
        BlockSpec windowed = new(
        [
            new NodeSpec("norm", "layer_norm", "input"),
            new NodeSpec("attn", "window_mhsa", "norm").With("heads", 2),
            new NodeSpec("sum", "add", "attn", "input"),
            new NodeSpec("norm2", "layer_norm", "sum"),
            new NodeSpec("shifted", "window_mhsa", "norm2").With("heads", 2).With("shift", true),
            new NodeSpec("sum2", "add", "shifted", "sum"),
        ], "sum2");
        return new(
            "stage-wise",
            new InputSpec(1, 28, 10),
            new StemSpec(StemKind.Conv, 8, 3, 2, "relu"),
            [
                new StageSpec(1, 8, DownsampleKind.None),
                new StageSpec(2, 16, DownsampleKind.AvgPoolConv, windowed),
                new StageSpec(1, 24, DownsampleKind.StridedConv, windowed),
            ],
            new BlockSpec([new NodeSpec("conv", "conv", "input"), new NodeSpec("bn", "batch_norm", "conv"), new NodeSpec("sum", "add", "bn", "input")], "sum"),
            new HeadSpec("none", 0));
    }

    public static IEnumerable<ArchitectureSpec> All() =>
        ReferenceArchitectures.All()
            .Append(StageWise())
            .Append(EveryOperator())
            .Append(Downsamplers())
            .Append(Nb201.ToSpec("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|", Nb201.InputFor("cifar100"), cellsPerStage: 2));
}
