using System.Globalization;

namespace FairNad.Architecture.Transforms;

/// <summary>A transform does not apply to this spec (nothing to change, or the result would be invalid); the message says why.</summary>
public sealed class TransformNotApplicableException(string message) : Exception(message);

/// <summary>The transformed spec and one line saying what changed (it becomes the candidate's commit summary).</summary>
public sealed record TransformResult(ArchitectureSpec Spec, string Summary);

/// <summary>
/// What part of a stage-wise spec (one whose stages have blocks of their own) a transform acts on. A spec without stage
/// blocks has one block, and every transform acts on it exactly as before.
/// </summary>
public enum TransformScope
{
    /// <summary>Every block: the shared one and each stage's own (a block where the transform does not apply stays as it is).</summary>
    EveryBlock,

    /// <summary>
    /// Only the block of the last stage (which gets a block of its own if it shared one): for global-token mixers such as
    /// self-attention and token MLPs, which hybrid designs put late, at the lowest resolution.
    /// </summary>
    LastStageBlock,

    /// <summary>The macro structure (stem, stages, head); blocks are left alone.</summary>
    Macro,
}

/// <summary>A named, parameterised change of an architecture spec: how an attribute of the knowledge tree is realised.</summary>
/// <param name="Body">The change of a spec with one block (stage-wise specs: see <see cref="Scope"/>).</param>
/// <param name="Scope">What it acts on in a stage-wise spec.</param>
public sealed record TransformDefinition(
    string Name,
    string Description,
    IReadOnlyList<ParamSchema> Params,
    Func<ArchitectureSpec, TransformArguments, TransformResult> Body,
    TransformScope Scope = TransformScope.EveryBlock);

/// <summary>A transform's parameters with defaults filled in.</summary>
public sealed class TransformArguments(IReadOnlyDictionary<string, ParamValue> values)
{
    public int Int(string name) => (int)values[name].Number!.Value;

    public double Number(string name) => values[name].Number!.Value;

    public string Text(string name) => values[name].Text!;
}

/// <summary>
/// The library of spec transforms. Every result is validated with the analyzer; a transform that changes nothing or yields
/// an invalid spec throws <see cref="TransformNotApplicableException"/>, so a search can try another. Pure functions of
/// (spec, parameters): the same inputs give the same spec, including the ids of inserted nodes.
/// </summary>
public static class SpecTransforms
{
    /// <summary>Transforms of the macro structure: they never touch a block.</summary>
    private static readonly string[] MacroTransforms = ["widen_stage", "deepen_stage", "change_downsample", "patchify_stem", "conv_stem", "head_dropout", "head_preactivation"];

    /// <summary>Transforms that add a global-token mixer: in a stage-wise spec, to the last stage's block only.</summary>
    private static readonly string[] LateTransforms = ["add_attention", "add_token_mixing"];

    // After the scope lists: static fields are initialised in declaration order.
    private static readonly Dictionary<string, TransformDefinition> Library = Build().Select(WithScope).ToDictionary(t => t.Name, StringComparer.Ordinal);

    public static IReadOnlyCollection<TransformDefinition> All => Library.Values;

    public static TransformDefinition? Find(string name) => Library.GetValueOrDefault(name);

    /// <summary>Applies a transform and validates the result.</summary>
    /// <exception cref="TransformNotApplicableException">it does not apply, or the result is invalid.</exception>
    /// <exception cref="ArgumentException">unknown transform or bad parameter.</exception>
    public static TransformResult Apply(string name, ArchitectureSpec spec, IReadOnlyDictionary<string, ParamValue>? parameters = null)
    {
        var transform = Find(name) ?? throw new ArgumentException($"unknown transform '{name}'; known: {string.Join(", ", Library.Keys.Order(StringComparer.Ordinal))}");
        var values = new Dictionary<string, ParamValue>(StringComparer.Ordinal);
        foreach (var schema in transform.Params)
        {
            values[schema.Name] = schema.Default;
        }

        foreach (var (key, value) in parameters ?? new Dictionary<string, ParamValue>())
        {
            var schema = transform.Params.FirstOrDefault(p => p.Name == key)
                ?? throw new ArgumentException($"transform '{name}' has no parameter '{key}'; known: {string.Join(", ", transform.Params.Select(p => p.Name))}");
            if (schema.Choices is { } choices && !choices.Contains(value.Text))
            {
                throw new ArgumentException($"transform '{name}': parameter '{key}' is '{value}' but must be one of {string.Join(", ", choices)}");
            }

            values[key] = value;
        }

        var result = spec.HasStageBlocks && transform.Scope != TransformScope.Macro
            ? ApplyStageWise(transform, spec, new TransformArguments(values))
            : transform.Body(spec, new TransformArguments(values));
        var analysis = ArchitectureAnalyzer.Analyze(result.Spec);
        if (!analysis.IsValid)
        {
            throw new TransformNotApplicableException($"{name}: the result is invalid: {string.Join("; ", analysis.Errors.Take(3))}");
        }

        if (result.Spec.Id == spec.Id)
        {
            throw new TransformNotApplicableException($"{name}: nothing to change in this spec");
        }

        return result;
    }

    private static TransformDefinition WithScope(TransformDefinition t) =>
        MacroTransforms.Contains(t.Name) ? t with { Scope = TransformScope.Macro } : LateTransforms.Contains(t.Name) ? t with { Scope = TransformScope.LastStageBlock } : t;

    /// <summary>
    /// A block transform on a stage-wise spec: its body runs on the spec seen with one block at a time (the shared block,
    /// each stage's own block, or only the last stage's block, as <see cref="TransformDefinition.Scope"/> says), and the
    /// changed blocks are put back where they came from. It does not apply when it applies to none of them.
    /// </summary>
    private static TransformResult ApplyStageWise(TransformDefinition transform, ArchitectureSpec spec, TransformArguments arguments)
    {
        var flatStages = spec.Stages.Select(s => s with { Block = null }).ToList();
        TransformNotApplicableException? firstProblem = null;
        (BlockSpec Block, string? Summary) Change(BlockSpec block)
        {
            try
            {
                var result = transform.Body(spec with { Block = block, Stages = flatStages }, arguments);
                return (result.Spec.Block, result.Summary);
            }
            catch (TransformNotApplicableException e)
            {
                firstProblem ??= e;
                return (block, null);
            }
        }

        var stages = spec.Stages.ToList();
        if (transform.Scope == TransformScope.LastStageBlock)
        {
            var last = stages.Count - 1;
            var (block, summary) = Change(spec.BlockOf(last));
            if (summary is null)
            {
                throw new TransformNotApplicableException($"{firstProblem!.Message} (in the block of the last stage, {last})");
            }

            stages[last] = stages[last] with { Block = block };
            return new(spec with { Stages = stages }, $"{summary} (the block of the last stage, {last})");
        }

        var (shared, sharedSummary) = Change(spec.Block);
        var summaries = new List<string>();
        if (sharedSummary is not null)
        {
            summaries.Add(sharedSummary);
        }

        var blocks = 1;
        for (var s = 0; s < stages.Count; s++)
        {
            if (stages[s].Block is { } own)
            {
                blocks++;
                var (changed, summary) = Change(own);
                stages[s] = stages[s] with { Block = changed };
                if (summary is not null)
                {
                    summaries.Add(summary);
                }
            }
        }

        if (summaries.Count == 0)
        {
            throw new TransformNotApplicableException($"{firstProblem!.Message} (in every block of the stage-wise spec)");
        }

        var where = summaries.Count == blocks ? "in every block" : $"in {summaries.Count} of its {blocks} blocks";
        return new(spec with { Block = shared, Stages = stages }, $"{summaries[0]} ({where})");
    }

    private static ParamSchema Choice(string name, string value, string description, params string[] choices) => new(name, ParamKind.Text, value, description, Choices: choices);

    private static IEnumerable<TransformDefinition> Build()
    {
        yield return new("insert_recalibration", "insert channel or spatial attention (se, eca, spatial_attention) on the residual branch, or before the block output", [Choice("op", "se", "attention operator", "se", "eca", "spatial_attention")],
            (spec, a) => OnResidualBranch(spec, a.Text("op"), new NodeSpec(string.Empty, a.Text("op"), []), $"insert {a.Text("op")} on the residual branch"));

        yield return new("swap_activation", "use another activation function in every activation of the block", [Choice("fn", "hardswish", "activation", [.. Operators.Activations])],
            (spec, a) =>
            {
                var fn = a.Text("fn");
                var nodes = spec.Block.Nodes.Select(n => n.Op switch
                {
                    "act" => n.With("fn", fn),
                    "sep_conv" or "inverted_residual" or "channel_mlp" => n.With("act", fn),
                    _ => n,
                }).ToList();
                return new(spec with { Block = spec.Block with { Nodes = nodes } }, $"use {fn} as the block's activation");
            });

        yield return new("separable_conv", "replace every dense k x k convolution (k > 1) by a depthwise-separable one", [],
            (spec, _) => Replace(spec, n => n.Op == "conv" && Get(n, "kernel") > 1 && Get(n, "groups") == 1 && !Flag(n, "depthwise"),
                n => new NodeSpec(n.Id, "sep_conv", n.Inputs, Keep(n, "kernel", "stride", "out")), "replace dense convolutions by depthwise-separable ones"));

        yield return new("larger_kernel", "enlarge the spatial kernel of convolutions", [new("kernel", ParamKind.Int, 5, "new kernel size (odd)", 3, 9)],
            (spec, a) => Replace(spec, n => n.Op is "conv" or "sep_conv" or "inverted_residual" && Get(n, "kernel") > 1 && Get(n, "kernel") < a.Int("kernel"),
                n => n.With("kernel", a.Int("kernel")), $"enlarge spatial kernels to {a.Int("kernel")} x {a.Int("kernel")}"));

        yield return new("inverted_bottleneck", "replace the first dense k x k convolution by an inverted residual (expand, depthwise, project)", [new("expand", ParamKind.Number, 4.0, "expansion ratio", 1, 8)],
            (spec, a) =>
            {
                var target = spec.Block.Nodes.FirstOrDefault(n => n.Op == "conv" && Get(n, "kernel") > 1 && Get(n, "groups") == 1 && !Flag(n, "depthwise"))
                    ?? throw new TransformNotApplicableException("inverted_bottleneck: no dense k x k convolution in the block");
                var replacement = new NodeSpec(target.Id, "inverted_residual", target.Inputs, Keep(target, "kernel", "stride", "out")).With("expand", a.Number("expand"));
                return new(WithNodes(spec, spec.Block.Nodes.Select(n => n.Id == target.Id ? replacement : n)), $"replace convolution {target.Id} by an inverted bottleneck (expand {a.Number("expand").ToString(CultureInfo.InvariantCulture)})");
            });

        yield return new("add_residual", "add an identity shortcut around the whole block", [],
            (spec, _) =>
            {
                if (IsResidualOutput(spec.Block))
                {
                    throw new TransformNotApplicableException("add_residual: the block output already adds the block input");
                }

                var id = Fresh(spec.Block, "residual");
                var nodes = spec.Block.Nodes.Append(new NodeSpec(id, "add", spec.Block.Output, BlockSpec.InputName)).ToList();
                return new(spec with { Block = new BlockSpec(nodes, id) }, "add an identity shortcut around the block");
            });

        yield return new("add_parallel_branch", "add a parallel convolution branch from the block input, summed into the output (multi-branch, Inception style)", [new("kernel", ParamKind.Int, 1, "kernel of the branch", 1, 7)],
            (spec, a) =>
            {
                var conv = Fresh(spec.Block, "branch_conv");
                var norm = Fresh(spec.Block, "branch_bn");
                var sum = Fresh(spec.Block, "branch_sum");
                var nodes = spec.Block.Nodes.Concat(
                [
                    new NodeSpec(conv, "conv", BlockSpec.InputName).With("kernel", a.Int("kernel")),
                    new NodeSpec(norm, "batch_norm", conv),
                    new NodeSpec(sum, "add", spec.Block.Output, norm),
                ]).ToList();
                return new(spec with { Block = new BlockSpec(nodes, sum) }, $"add a parallel {a.Int("kernel")} x {a.Int("kernel")} convolution branch");
            });

        yield return new("concat_fusion", "fuse the residual branch with the block input by concatenation and a 1 x 1 projection instead of a sum (DenseNet style aggregation)", [],
            (spec, _) =>
            {
                var (add, branch) = ResidualAdd(spec.Block) ?? throw new TransformNotApplicableException("concat_fusion: the block has no residual sum to replace");
                var cat = Fresh(spec.Block, "fuse_cat");
                var nodes = new List<NodeSpec>();
                foreach (var n in spec.Block.Nodes)
                {
                    if (n.Id == add.Id)
                    {
                        nodes.Add(new NodeSpec(cat, "concat", branch, BlockSpec.InputName));
                        nodes.Add(new NodeSpec(add.Id, "conv", cat).With("kernel", 1));
                    }
                    else
                    {
                        nodes.Add(n);
                    }
                }

                return new(WithNodes(spec, nodes), "fuse the branch and the input by concatenation and a 1 x 1 projection");
            });

        yield return new("swap_normalisation", "use another normalisation in every normalisation node", [Choice("to", "layer_norm", "normalisation", "batch_norm", "layer_norm", "group_norm", "instance_norm")],
            (spec, a) => Replace(spec, n => n.Op is "batch_norm" or "layer_norm" or "group_norm" or "instance_norm" && n.Op != a.Text("to"),
                n => new NodeSpec(n.Id, a.Text("to"), n.Inputs, new SortedDictionary<string, ParamValue>(StringComparer.Ordinal)), $"use {a.Text("to")} for normalisation"));

        yield return new("insert_layer_scale", "scale the residual branch by a learned per-channel factor before the sum", [new("init", ParamKind.Number, 1e-6, "initial scale", 0, 1)],
            (spec, a) => OnResidualBranch(spec, "layer_scale", new NodeSpec(string.Empty, "layer_scale", []).With("init", a.Number("init")), "scale the residual branch with layer scale"));

        yield return new("insert_drop_path", "drop the residual branch per sample during training (stochastic depth)", [new("p", ParamKind.Number, 0.1, "drop probability", 0, 0.5)],
            (spec, a) => OnResidualBranch(spec, "drop_path", new NodeSpec(string.Empty, "drop_path", []).With("p", a.Number("p")), "add stochastic depth on the residual branch"));

        yield return new("add_attention", "prepend a pre-norm multi-head self-attention sub-block with its own shortcut (hybrid convolution-attention design)", [new("heads", ParamKind.Int, 4, "attention heads", 1, 16)],
            (spec, a) => Prepend(spec, "attn", new NodeSpec(string.Empty, "mhsa", []).With("heads", a.Int("heads")), $"prepend self-attention ({a.Int("heads")} heads) to the block"));

        yield return new("add_token_mixing", "prepend a pre-norm token-mixing MLP sub-block with its own shortcut (MLP-Mixer style spatial mixing)", [],
            (spec, _) => Prepend(spec, "mix", new NodeSpec(string.Empty, "token_mlp", []), "prepend token mixing to the block"));

        yield return new("widen_stage", "multiply the width of one stage (and of the following stages, if they were narrower)", [new("stage", ParamKind.Int, -1, "stage index; negative counts from the end", -8, 8), new("factor", ParamKind.Number, 1.25, "width factor", 1.01, 4)],
            (spec, a) =>
            {
                var s = StageIndex(spec, a.Int("stage"));
                var stages = spec.Stages.ToList();
                var width = (int)Math.Round(stages[s].Width * a.Number("factor"), MidpointRounding.AwayFromZero);
                width = ((width + 3) / 4) * 4;
                for (var i = s; i < stages.Count; i++)
                {
                    stages[i] = stages[i] with { Width = Math.Max(stages[i].Width, width) };
                }

                return new(FixStem(spec with { Stages = stages }), $"widen stage {s} to {width} channels");
            });

        yield return new("deepen_stage", "add blocks to one stage", [new("stage", ParamKind.Int, -1, "stage index; negative counts from the end", -8, 8), new("blocks", ParamKind.Int, 1, "blocks to add", 1, 8)],
            (spec, a) =>
            {
                var s = StageIndex(spec, a.Int("stage"));
                var stages = spec.Stages.ToList();
                stages[s] = stages[s] with { Blocks = stages[s].Blocks + a.Int("blocks") };
                return new(spec with { Stages = stages }, $"add {a.Int("blocks")} block(s) to stage {s}");
            });

        yield return new("change_downsample", "use another downsampling step between stages", [Choice("kind", "StridedConv", "downsampling kind", "StridedConv", "ResidualReduction", "PatchMerging", "AvgPoolConv")],
            (spec, a) =>
            {
                var kind = Enum.Parse<DownsampleKind>(a.Text("kind"));
                var stages = spec.Stages.Select((st, i) => i == 0 && st.Downsample == DownsampleKind.None ? st : st with { Downsample = kind }).ToList();
                return new(spec with { Stages = stages }, $"downsample with {kind}");
            });

        yield return new("patchify_stem", "encode the input as non-overlapping patches (p x p convolution with stride p and layer norm)", [new("patch", ParamKind.Int, 2, "patch size", 1, 8)],
            (spec, a) => new(spec with { Stem = spec.Stem with { Kind = StemKind.Patchify, Kernel = a.Int("patch"), Stride = a.Int("patch"), Activation = "none" } }, $"patchify the input with {a.Int("patch")} x {a.Int("patch")} patches"));

        yield return new("conv_stem", "encode the input with an overlapping k x k convolution, batch norm and an activation", [new("kernel", ParamKind.Int, 3, "kernel", 1, 7), new("stride", ParamKind.Int, 1, "stride", 1, 4)],
            (spec, a) => new(spec with { Stem = spec.Stem with { Kind = StemKind.Conv, Kernel = a.Int("kernel"), Stride = a.Int("stride"), Activation = spec.Stem.Activation == "none" ? "relu" : spec.Stem.Activation } },
                $"encode the input with a {a.Int("kernel")} x {a.Int("kernel")} convolution, stride {a.Int("stride")}"));

        yield return new("head_dropout", "dropout before the classifier", [new("p", ParamKind.Number, 0.2, "drop probability", 0.01, 0.8)],
            (spec, a) => new(spec with { Head = spec.Head with { Dropout = a.Number("p") } }, $"dropout {a.Number("p").ToString(CultureInfo.InvariantCulture)} before the classifier"));

        yield return new("head_preactivation", "batch norm and an activation before global pooling", [Choice("fn", "relu", "activation", [.. Operators.Activations])],
            (spec, a) => new(spec with { Head = spec.Head with { PreActivation = a.Text("fn") } }, $"normalise and apply {a.Text("fn")} before pooling"));

        yield return new(CustomOperatorTransform, "replace the block's first spatial operator (a k x k convolution, separable convolution, inverted residual or another written operator) by an LLM-written operator of the run's archive, keeping its inputs, id, output ratio and stride",
            [new("source", ParamKind.Text, string.Empty, "sha256:<hex> of the operator's source (an entry of the run's operator archive)")],
            (spec, a) => CustomOperator(spec, a.Text("source")));
    }

    /// <summary>The transform that applies an archived LLM-written operator (<see cref="CustomOperator"/>).</summary>
    public const string CustomOperatorTransform = "custom_operator";

    /// <summary>
    /// Puts the operator <paramref name="source"/> in place of the block's first spatial operator. The contract of a written
    /// operator is that of a convolution (in channels -> out channels at ceil(H / stride)), so the replaced node's inputs,
    /// id, <c>out</c> and <c>stride</c> carry over and the block keeps its shapes and its other nodes; the node id is kept,
    /// so the child's id is a function of the parent and the source alone. 1 x 1 convolutions are not replaced: they mix
    /// channels, and the operator is meant to do the block's spatial work.
    /// </summary>
    private static TransformResult CustomOperator(ArchitectureSpec spec, string source)
    {
        if (!OperatorSources.IsReference(source))
        {
            throw new ArgumentException($"transform '{CustomOperatorTransform}': parameter 'source' is '{source}' but must be sha256:<64 lower-case hex digits>");
        }

        var target = spec.Block.Nodes.FirstOrDefault(n => n.Op switch
        {
            "conv" or "relu_conv_bn" or "sep_conv" or "inverted_residual" => Get(n, "kernel") > 1,
            OperatorSources.OperatorName => !(n.Params.TryGetValue("source", out var s) && s.Text == source),
            _ => false,
        }) ?? throw new TransformNotApplicableException($"{CustomOperatorTransform}: no spatial operator in the block to replace by {source}");
        var replacement = new NodeSpec(target.Id, OperatorSources.OperatorName, target.Inputs, Keep(target, "stride", "out")).With("source", source);
        return new(WithNodes(spec, spec.Block.Nodes.Select(n => n.Id == target.Id ? replacement : n)),
            $"replace {target.Op} {target.Id} by the written operator {source[..(OperatorSources.Prefix.Length + 12)]}");
    }

    private static int Get(NodeSpec n, string name) =>
        n.Params.TryGetValue(name, out var v) && v.Number is { } x ? (int)x : (int)Operators.Get(n.Op).Params.First(p => p.Name == name).Default.Number!.Value;

    private static bool Flag(NodeSpec n, string name) => n.Params.TryGetValue(name, out var v) && v.Flag == true;

    private static SortedDictionary<string, ParamValue> Keep(NodeSpec n, params string[] names) =>
        new(n.Params.Where(p => names.Contains(p.Key)).ToDictionary(p => p.Key, p => p.Value), StringComparer.Ordinal);

    private static ArchitectureSpec WithNodes(ArchitectureSpec spec, IEnumerable<NodeSpec> nodes) => spec with { Block = spec.Block with { Nodes = nodes.ToList() } };

    private static TransformResult Replace(ArchitectureSpec spec, Func<NodeSpec, bool> match, Func<NodeSpec, NodeSpec> change, string summary)
    {
        if (!spec.Block.Nodes.Any(match))
        {
            throw new TransformNotApplicableException($"nothing to change: {summary}");
        }

        return new(WithNodes(spec, spec.Block.Nodes.Select(n => match(n) ? change(n) : n)), summary);
    }

    /// <summary>A node id not used in the block: the prefix, or prefix_2, prefix_3, ...</summary>
    private static string Fresh(BlockSpec block, string prefix)
    {
        var used = block.Nodes.Select(n => n.Id).ToHashSet(StringComparer.Ordinal);
        if (!used.Contains(prefix))
        {
            return prefix;
        }

        for (var i = 2; ; i++)
        {
            if (!used.Contains($"{prefix}_{i}"))
            {
                return $"{prefix}_{i}";
            }
        }
    }

    /// <summary>The add node that sums the block input with a branch, and that branch.</summary>
    private static (NodeSpec Add, string Branch)? ResidualAdd(BlockSpec block)
    {
        var add = block.Nodes.FirstOrDefault(n => n.Op == "add" && n.Inputs.Count == 2 && n.Inputs.Count(i => i == BlockSpec.InputName) == 1);
        return add is null ? null : (add, add.Inputs.First(i => i != BlockSpec.InputName));
    }

    private static bool IsResidualOutput(BlockSpec block)
    {
        var byId = block.Nodes.ToDictionary(n => n.Id, StringComparer.Ordinal);
        var output = byId[block.Output];
        while (output.Op is "act" or "channel_shuffle" && byId.TryGetValue(output.Inputs[0], out var previous))
        {
            output = previous;
        }

        return output.Op == "add" && output.Inputs.Contains(BlockSpec.InputName);
    }

    /// <summary>Inserts <paramref name="template"/> between the residual branch and its sum, or after the block output when there is no residual sum.</summary>
    private static TransformResult OnResidualBranch(ArchitectureSpec spec, string prefix, NodeSpec template, string summary)
    {
        var id = Fresh(spec.Block, prefix);
        if (ResidualAdd(spec.Block) is var (add, branch))
        {
            var nodes = new List<NodeSpec>();
            foreach (var n in spec.Block.Nodes)
            {
                if (n.Id == add.Id)
                {
                    nodes.Add(template with { Id = id, Inputs = [branch] });
                    nodes.Add(n with { Inputs = n.Inputs.Select(i => i == branch ? id : i).ToList() });
                }
                else
                {
                    nodes.Add(n);
                }
            }

            return new(WithNodes(spec, nodes), summary);
        }

        var appended = spec.Block.Nodes.Append(template with { Id = id, Inputs = [spec.Block.Output] }).ToList();
        return new(spec with { Block = new BlockSpec(appended, id) }, summary.Replace("on the residual branch", "before the block output", StringComparison.Ordinal));
    }

    /// <summary>Prepends norm -> op -> add(input) and feeds the rest of the block from that sum.</summary>
    private static TransformResult Prepend(ArchitectureSpec spec, string prefix, NodeSpec template, string summary)
    {
        var norm = Fresh(spec.Block, $"{prefix}_norm");
        var op = Fresh(spec.Block, prefix);
        var sum = Fresh(spec.Block, $"{prefix}_sum");
        var rest = spec.Block.Nodes.Select(n => n with { Inputs = n.Inputs.Select(i => i == BlockSpec.InputName ? sum : i).ToList() });
        var nodes = new List<NodeSpec>
        {
            new(norm, "layer_norm", BlockSpec.InputName),
            template with { Id = op, Inputs = [norm] },
            new(sum, "add", op, BlockSpec.InputName),
        };
        nodes.AddRange(rest);
        return new(WithNodes(spec, nodes), summary);
    }

    private static int StageIndex(ArchitectureSpec spec, int stage)
    {
        var s = stage < 0 ? spec.Stages.Count + stage : stage;
        return s >= 0 && s < spec.Stages.Count ? s : throw new TransformNotApplicableException($"stage {stage} does not exist; the spec has {spec.Stages.Count}");
    }

    /// <summary>Keeps the stem as wide as the first stage when that stage has no downsampling step to change the width.</summary>
    private static ArchitectureSpec FixStem(ArchitectureSpec spec) =>
        spec.Stages[0].Downsample == DownsampleKind.None ? spec with { Stem = spec.Stem with { Channels = spec.Stages[0].Width } } : spec;
}
