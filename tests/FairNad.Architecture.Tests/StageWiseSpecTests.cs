using FairNad.Architecture.Models;
using FairNad.Architecture.Transforms;

namespace FairNad.Architecture.Tests;

/// <summary>Stage-wise specs: stages with blocks of their own, "previous", ids, validation, transforms and window attention.</summary>
public sealed class StageWiseSpecTests
{
    public static readonly string[] StageWiseReferences = ["mobilevit", "efficientformer", "swin"];

    private static readonly InputSpec[] Inputs = [ReferenceArchitectures.Cifar10, new(1, 28, 10), new(3, 16, 120)];

    public static TheoryData<string> StageWise => new(StageWiseReferences);

    private static BlockSpec Residual(string op) => new([new NodeSpec("x", op, "input"), new NodeSpec("sum", "add", "x", "input")], "sum");

    private static ArchitectureSpec Plain(BlockSpec? stage1 = null, BlockSpec? stage2 = null) => new(
        "plain",
        new InputSpec(3, 32, 10),
        new StemSpec(StemKind.Conv, 16, 3, 1, "relu"),
        [new StageSpec(1, 16, DownsampleKind.None), new StageSpec(1, 32, DownsampleKind.StridedConv, stage1), new StageSpec(1, 32, DownsampleKind.StridedConv, stage2)],
        Residual("conv"),
        new HeadSpec("none", 0));

    /// <summary>
    /// Ids of specs without stage blocks, computed by the build before stages could have blocks (commit aa74fb7): the
    /// canonical JSON of every such spec must stay byte for byte what it was.
    /// </summary>
    public static TheoryData<string, int, string> PinnedIds => new()
    {
        { "resnet", 32, "64d96a809fbc322786053b0e15ec3410bf111375f6f8c7b4b01db442d92a9e2b" },
        { "resnet", 28, "dd5f30a0370485112b64c6e0f6e72371b51a9422de48077bbd474021602f6aba" },
        { "se_resnet", 32, "b6153752f80b0b28cf89a7a0f764187c9fa865335be45d84f0ca4d19c9804c1a" },
        { "se_resnet", 28, "aef604c327ef795c5228f407ff0ce044cfef973002372f8d183fb93711a2db0c" },
        { "mobilenetv2", 32, "1bb0dad658d89b85f04071658554b8b7b71f733d37e33bfb1eb7e29d9ba54fec" },
        { "mobilenetv2", 28, "b3a3a182e949c431281ff6cbcf29d63bbc88ddad0da07c68a8ee2b36e363f165" },
        { "shufflenetv2", 32, "bc6f93505973280a07ae28ff754b4e849148f313b58263d32f565c04838faf38" },
        { "shufflenetv2", 28, "932036fc5aec2d4bdae68185ea431cb6d2ceca4fde9db1bff1686aa6ec75aedf" },
        { "convnext", 32, "5ab7e7004034b65d18fb8f3da4ee7b068f2f43f800c7b3b6020eeef544d201ed" },
        { "convnext", 28, "c5a18223200f3af324b493674333b21659b278d1c98023639415f4e9faae3c57" },
        { "vit", 32, "83c7b46bfc2ddede56a45198dfbaadfb995cdb3380ece5f7adc83bfb3b0c6aba" },
        { "vit", 28, "38a2877e5caf010a744a766b884c2a6c489eb7fccf09e4d42867dff725af70e5" },
        { "mlp_mixer", 32, "b4d67edaee898e65d61fec74f481b06423c48c45d2ed3532a4a83dccc8fcaa31" },
        { "mlp_mixer", 28, "4b648ddddebd13cff8aae5fa48ef6947626b90b5b82369e60484330b1e34bb15" },
        { "resnext", 32, "86d99343c06f572f584257c85e03ae271e0588f11fd7ae36b0d72908e4af50d0" },
        { "resnext", 28, "cbcec40cbeecd398a89ec36181655baa4388c7d1378ba2a2942f311b6f39fdde" },
        { "eca_mobilenetv2", 32, "db77c1376d05f2f0a6da643119773803aa5e6473e281be895fa0000946f441ec" },
        { "eca_mobilenetv2", 28, "617eff435c114daf9db2d04c177f42d8c7c25f3174079e2f2787507d7c400a7c" },
        { "cbam_resnet", 32, "157962e886ae72c4b508b92f89794eb8739695224b3b1a59fc4171ad0b9bb4c0" },
        { "cbam_resnet", 28, "f94d8a0ed63a9aad7ea7be584c74a693d7826e982fb16d81e63e1021ddc6cc42" },
        { "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|", 32, "6e8ab045c8e7526539ff4828097f122412a247f8bc769971872006e0aa4f421d" },
        { "|avg_pool_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|", 32, "f563bbf23dc7b1f76cd8f45bbb9dcf9ce469265dab04355686a5e2a2efc720a8" },
    };

    [Theory]
    [MemberData(nameof(PinnedIds))]
    public void Id_SpecsWithoutStageBlocks_SameAsBeforeStageBlocks(string name, int resolution, string expected)
    {
        var spec = name.StartsWith('|')
            ? Nb201.ToSpec(name, Nb201.InputFor("cifar10"))
            : ReferenceArchitectures.Get(name, resolution == 32 ? ReferenceArchitectures.Cifar10 : new InputSpec(1, resolution, 10));

        Assert.False(spec.HasStageBlocks);
        Assert.DoesNotContain("\"block\":{\"nodes\"", SpecJson.Canonical(spec)[SpecJson.Canonical(spec).IndexOf("\"stages\"", StringComparison.Ordinal)..], StringComparison.Ordinal);
        Assert.Equal(expected, spec.Id);
    }

    [Fact]
    public void Id_StageBlocksEqualToTheSharedBlock_SameIdAsWithout()
    {
        var plain = Plain();
        var explicitCopies = Plain(Residual("conv"), Residual("conv"));

        Assert.Equal(plain.Id, explicitCopies.Id);
        Assert.Equal(SpecJson.Canonical(plain), SpecJson.Canonical(explicitCopies));
    }

    [Fact]
    public void Id_EveryStageOwnBlock_SameIdAsStageZeroBlockShared()
    {
        // Stage 0's block is the canonical shared block, so an unused shared block does not split one network into two ids.
        var shared = Plain(Residual("sep_conv"), Residual("sep_conv"));
        var allOwn = shared with { Block = Residual("mhsa"), Stages = [shared.Stages[0] with { Block = Residual("conv") }, .. shared.Stages.Skip(1)] };

        Assert.Equal(shared.Id, allOwn.Id);
        Assert.NotEqual(Plain().Id, shared.Id);
    }

    [Fact]
    public void Write_StageBlocksAndPrevious_ReadBackWithSameIdAndBlocks()
    {
        var spec = ReferenceArchitectures.Get("mobilevit");

        var json = SpecJson.Write(spec);
        var read = SpecJson.Read(json, "mobilevit.json");

        Assert.Contains("\"block\": \"previous\"", json, StringComparison.Ordinal);
        Assert.Equal(spec.Id, read.Id);
        Assert.Null(read.Stages[0].Block);
        Assert.Same(read.Stages[2].Block, read.Stages[3].Block);
        Assert.Equal(SpecJson.BlockText(spec.Stages[2].Block!), SpecJson.BlockText(read.Stages[3].Block!));
        Assert.Equal(json, SpecJson.Write(read));
        Assert.Equal(SpecJson.Canonical(spec), SpecJson.Canonical(SpecJson.Read(SpecJson.Canonical(spec))));
    }

    [Fact]
    public void Read_PreviousAfterSharedStage_MeansTheSharedBlock()
    {
        var json = SpecJson.Write(Plain()).Replace("\"blocks\": 1,\n      \"downsample\": \"StridedConv\"", "\"block\": \"previous\",\n      \"blocks\": 1,\n      \"downsample\": \"StridedConv\"", StringComparison.Ordinal);

        var read = SpecJson.Read(json);

        Assert.NotNull(read.Stages[1].Block);
        Assert.Equal(Plain().Id, read.Id);
    }

    [Theory]
    [InlineData("{\"block\": \"previous\", \"blocks\": 1, \"width\": 16, \"downsample\": \"None\"}", "$.stages[0].block: stage 0 has no previous stage")]
    [InlineData("{\"block\": \"next\", \"blocks\": 1, \"width\": 16, \"downsample\": \"None\"}", "$.stages[0].block: must be a block object or \"previous\"")]
    [InlineData("{\"block\": {\"nodes\": [], \"outputs\": \"x\"}, \"blocks\": 1, \"width\": 16, \"downsample\": \"None\"}", "$.stages[0].block: unknown field 'outputs'")]
    [InlineData("{\"block\": {\"nodes\": [{\"id\": \"x\", \"op\": \"conv\"}], \"output\": \"x\"}, \"blocks\": 1, \"width\": 16, \"downsample\": \"None\"}", "$.stages[0].block.nodes[0]: missing required field 'inputs'")]
    public void Read_BadStageBlock_ErrorNamesTheStage(string stage, string expected)
    {
        var json = SpecJson.Write(Plain(), indented: false);
        var start = json.IndexOf("\"stages\":[", StringComparison.Ordinal) + "\"stages\":[".Length;
        var end = json.IndexOf('}', start) + 1;
        var broken = json[..start] + stage + json[end..];

        var error = Assert.Throws<SpecFormatException>(() => SpecJson.Read(broken, "spec.json"));

        Assert.StartsWith("spec.json: " + expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Analyze_UnknownOperatorInStageBlock_ErrorNamesTheStage()
    {
        var spec = Plain(stage2: Residual("warp_drive"));

        var error = Assert.Single(ArchitectureAnalyzer.Analyze(spec).Errors);

        Assert.Equal("stages[2].block.nodes[0]", error.Location);
        Assert.Equal("unknown-op", error.Rule);
        Assert.Contains("(in the block of stage 2)", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Analyze_StageBlockThatChangesTheShape_ErrorNamesTheStage()
    {
        var widening = new BlockSpec([new NodeSpec("x", "conv", "input").With("out", 2.0)], "x");

        var error = Assert.Single(ArchitectureAnalyzer.Analyze(Plain(stage1: widening)).Errors);

        Assert.Equal("stages[1].block.output", error.Location);
        Assert.Equal("output-shape", error.Rule);
        Assert.Contains("(stage 1)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_StageWise_EachStageItsOwnBlockAndSharedElsewhere()
    {
        var plan = NetworkPlanner.Plan(Plain(stage2: Residual("sep_conv")));

        Assert.Equal(["conv", "conv", "sep_conv"], plan.Stages.Select(s => s.Block.Nodes.First(n => n.Layer is not null).Op));
        Assert.Contains("Layers.SepConv(", TorchSharpCodeWriter.Write(plan), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(StageWise))]
    public void Analyze_StageWiseReference_ValidAt32_28And16WithStageBlocks(string name)
    {
        foreach (var input in Inputs)
        {
            var spec = ReferenceArchitectures.Get(name, input);
            var analysis = ArchitectureAnalyzer.Analyze(spec);

            Assert.True(analysis.IsValid, $"{name} at {input}: {string.Join("; ", analysis.Errors)}");
            Assert.True(spec.HasStageBlocks, name);
            Assert.NotEqual(SpecJson.BlockText(spec.BlockOf(0)), SpecJson.BlockText(spec.BlockOf(spec.Stages.Count - 1)));
        }
    }

    [Theory]
    [InlineData("mobilevit", 20_000)]
    [InlineData("mobilevit", 100_000)]
    [InlineData("efficientformer", 20_000)]
    [InlineData("efficientformer", 100_000)]
    [InlineData("swin", 20_000)]
    [InlineData("swin", 100_000)]
    public void ScaleToBudget_StageWiseReference_FillsTheBudgetAtEveryInput(string name, long budget)
    {
        foreach (var input in Inputs)
        {
            var scaled = WidthScaler.ScaleToBudget(ReferenceArchitectures.Get(name, input), budget);

            // Attention heads make widths multiples of 8, which at 20k parameters are steps of several percent.
            Assert.InRange(scaled.Parameters, (long)(budget * (budget < 50_000 ? 0.8 : 0.9)), budget);
            Assert.Equal(scaled.Parameters, ArchitectureAnalyzer.Analyze(scaled.Spec).Parameters);
            Assert.True(scaled.Spec.HasStageBlocks);
        }
    }

    [Fact]
    public void Apply_BlockTransformOnStageWise_ChangesEveryBlock()
    {
        var spec = ReferenceArchitectures.Get("mobilevit");

        var result = SpecTransforms.Apply("swap_activation", spec, new Dictionary<string, ParamValue> { ["fn"] = "hardswish" });

        foreach (var block in result.Spec.AllBlocks)
        {
            Assert.DoesNotContain(block.Nodes, n => n.Params.Values.Any(v => v.Text == "silu"));
        }

        Assert.EndsWith("(in every block)", result.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_AddAttentionOnStageWise_OnlyTheLastStageBlock()
    {
        var spec = ReferenceArchitectures.Get("efficientformer");

        var result = SpecTransforms.Apply("add_attention", spec);

        Assert.Equal(2, result.Spec.Stages[2].Block!.Nodes.Count(n => n.Op == "mhsa"));
        Assert.Equal(SpecJson.BlockText(spec.Block), SpecJson.BlockText(result.Spec.Block));
        Assert.Contains("the block of the last stage, 2", result.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_AddAttentionWithoutStageBlocks_AsBefore()
    {
        var result = SpecTransforms.Apply("add_attention", ReferenceArchitectures.Get("mobilenetv2"));

        Assert.False(result.Spec.HasStageBlocks);
        Assert.Equal(["attn_norm", "attn", "attn_sum"], result.Spec.Block.Nodes.Take(3).Select(n => n.Id));
    }

    [Fact]
    public void Scope_MacroAndLateTransforms_Declared()
    {
        Assert.Equal(TransformScope.Macro, SpecTransforms.Find("widen_stage")!.Scope);
        Assert.Equal(TransformScope.LastStageBlock, SpecTransforms.Find("add_attention")!.Scope);
        Assert.Equal(TransformScope.EveryBlock, SpecTransforms.Find("swap_activation")!.Scope);
    }

    [Fact]
    public void Apply_MacroTransformOnStageWise_KeepsTheStageBlocks()
    {
        var spec = ReferenceArchitectures.Get("swin");

        var result = SpecTransforms.Apply("deepen_stage", spec);

        Assert.Equal(2, result.Spec.Stages[^1].Blocks);
        Assert.Equal(spec.Stages.Select(s => s.Block is null ? null : SpecJson.BlockText(s.Block)), result.Spec.Stages.Select(s => s.Block is null ? null : SpecJson.BlockText(s.Block)));
    }

    [Fact]
    public void References_CustomOperatorInAStageBlock_Collected()
    {
        var source = OperatorSources.Hash("class Ghost {}");
        var spec = Plain(stage2: new BlockSpec([new NodeSpec("x", "custom", "input").With("source", source), new NodeSpec("sum", "add", "x", "input")], "sum"));

        Assert.Equal([source], OperatorSources.References(spec));
    }

    [Theory]
    [InlineData(8, 4, false, 4, 0, 64)]
    [InlineData(8, 4, true, 4, 2, 64)]
    [InlineData(7, 4, true, 4, 2, 64)]
    [InlineData(3, 4, true, 3, 0, 9)]
    [InlineData(2, 4, false, 2, 0, 4)]
    [InlineData(9, 2, true, 2, 1, 100)]
    public void WindowAttention_Resolution_WindowClampedShiftAndPadding(int size, int window, bool shift, int expectedWindow, int expectedShift, int padded)
    {
        const int channels = 16;
        var node = new NodeSpec("w", Operators.WindowAttentionName, "input").With("window", window).With("shift", shift);
        var op = Operators.Get(node.Op);

        var result = op.Apply(new OperatorArguments([new Shape(channels, size, size)], channels, ArchitectureAnalyzer.WithDefaults(node, op)));

        Assert.Equal(new Shape(channels, size, size), result.Output);
        Assert.Equal((4L * channels * channels) + (4 * channels), result.Parameters);
        Assert.Equal((4L * channels * channels * padded) + (2L * padded * expectedWindow * expectedWindow * channels), result.Macs);
        Assert.Equal(expectedWindow, result.Layer!.Arguments.Single(a => a.Name == "window").Value);
        Assert.Equal(expectedShift, result.Layer!.Arguments.Single(a => a.Name == "shift").Value);
    }

    [Fact]
    public void Offered_WindowAttentionNotYet_SchemaAndPromptLibraryUnchanged()
    {
        Assert.Contains(Operators.All, o => o.Name == Operators.WindowAttentionName);
        Assert.DoesNotContain(Operators.Offered, o => o.Name == Operators.WindowAttentionName);
        Assert.DoesNotContain(Operators.WindowAttentionName, SpecSchema.Text, StringComparison.Ordinal);
    }
}
