namespace FairNad.Architecture.Models;

/// <summary>A block node: either a layer applied to its single input, or a combination of its inputs.</summary>
public sealed record NodePlan(string Id, string Op, IReadOnlyList<string> Inputs, LayerCall? Layer, CombineKind? Combine, Shape Output);

/// <summary>The block of one stage with every channel count and size resolved.</summary>
public sealed record BlockPlan(int Stage, Shape Input, IReadOnlyList<NodePlan> Nodes, string Output);

/// <summary>A stage: the optional downsampling step before it, then <see cref="Blocks"/> copies of <see cref="Block"/>.</summary>
public sealed record StagePlan(int Index, LayerCall? Downsample, int Blocks, BlockPlan Block);

/// <summary>
/// A validated spec resolved into concrete layers, in construction order: stem, then per stage its downsampling step and
/// blocks, then the head. Built from the canonical form, so specs with one id get one plan.
/// </summary>
public sealed record NetworkPlan(string CandidateId, ArchitectureSpec Canonical, ArchitectureAnalysis Analysis, LayerCall Stem, IReadOnlyList<StagePlan> Stages, LayerCall Head);

/// <summary>A spec that cannot be built; <see cref="Errors"/> are the analyzer's messages.</summary>
public sealed class InvalidArchitectureException(string source, IReadOnlyList<ValidationError> errors)
    : Exception($"{source} is not a valid architecture:\n  " + string.Join("\n  ", errors))
{
    public IReadOnlyList<ValidationError> Errors { get; } = errors;
}

/// <summary>
/// Resolves a spec into a <see cref="NetworkPlan"/>. It knows no operator: every layer call comes from the definition
/// that also gives the shape and cost (<see cref="Operators"/>, <see cref="NetworkParts"/>).
/// </summary>
public static class NetworkPlanner
{
    /// <exception cref="InvalidArchitectureException">the spec does not validate.</exception>
    public static NetworkPlan Plan(ArchitectureSpec spec, string source = "spec")
    {
        var analysis = ArchitectureAnalyzer.Analyze(spec);
        if (!analysis.IsValid)
        {
            throw new InvalidArchitectureException(source, analysis.Errors);
        }

        var canonical = Canonicalizer.Canonicalize(spec);
        var id = spec.Id;
        analysis = ArchitectureAnalyzer.Analyze(canonical);
        var stem = NetworkParts.Stem(canonical);
        var stages = new List<StagePlan>();
        var previous = stem.Output;
        for (var s = 0; s < canonical.Stages.Count; s++)
        {
            var stage = canonical.Stages[s];
            var down = NetworkParts.Downsample(stage.Downsample, previous, stage.Width)!;
            var input = down.Output;
            stages.Add(new StagePlan(s, down.Layer, stage.Blocks, PlanBlock(canonical.BlockOf(s), s, input, analysis.Stages[s].NodeShapes)));
            previous = input;
        }

        var head = NetworkParts.Head.Apply(canonical, previous);
        return new NetworkPlan(id, canonical, analysis, stem.Layer!, stages, head.Layer!);
    }

    /// <summary>The layer call of one node at a given block width, or null for a combination (add, mul, concat).</summary>
    /// <exception cref="ShapeRuleException">the inputs break the operator's shape rule.</exception>
    public static LayerCall? LayerFor(NodeSpec node, IReadOnlyList<Shape> inputs, int blockWidth)
    {
        var op = Operators.Get(node.Op);
        return op.Apply(new OperatorArguments(inputs, blockWidth, ArchitectureAnalyzer.WithDefaults(node, op))).Layer;
    }

    private static BlockPlan PlanBlock(BlockSpec block, int stage, Shape input, IReadOnlyDictionary<string, Shape> shapes)
    {
        Shape ShapeOf(string id) => id == BlockSpec.InputName ? input : shapes[id];
        var byId = block.Nodes.ToDictionary(n => n.Id, StringComparer.Ordinal);
        var nodes = ArchitectureAnalyzer.TopologicalOrder(block)!.Select(id =>
        {
            var node = byId[id];
            var inputs = node.Inputs.Select(ShapeOf).ToList();
            return new NodePlan(id, node.Op, node.Inputs, LayerFor(node, inputs, input.C), Operators.Get(node.Op).Combine, shapes[id]);
        }).ToList();
        return new BlockPlan(stage, input, nodes, block.Output);
    }
}
