using System.Globalization;

namespace FairNad.Architecture;

/// <summary>A broken rule, worded so it can be fed back to an LLM for repair; <see cref="Rule"/> is a stable code.</summary>
public sealed record ValidationError(string Location, string? NodeId, string? Op, string Rule, string Message)
{
    public override string ToString() => NodeId is null ? $"{Location}: {Message}" : $"node '{NodeId}' ({Op}): {Message}";
}

/// <summary>Shapes and costs of one stage's block.</summary>
public sealed record StageAnalysis(int Index, int Width, int Resolution, IReadOnlyDictionary<string, Shape> NodeShapes, long BlockParameters, long BlockMacs);

/// <summary>The result of analysing a spec without building a model: shapes, parameter count, MACs, peak activations.</summary>
public sealed record ArchitectureAnalysis(
    IReadOnlyList<ValidationError> Errors,
    IReadOnlyList<StageAnalysis> Stages,
    long Parameters,
    long Macs,
    long PeakActivationBytes)
{
    public bool IsValid => Errors.Count == 0;

    /// <summary>
    /// The applications of LLM-written operators whose cost the analysis was not given (each counted as 0 parameters and
    /// 0 MACs): empty when every <c>custom</c> node's cost was found, so <see cref="Parameters"/> and <see cref="Macs"/> are complete.
    /// </summary>
    public IReadOnlyList<string> Unmeasured { get; init; } = [];
}

/// <summary>
/// The largest sizes a spec may ask for. Anything larger is a validation error (rule <c>too-large</c>), and a cost that
/// does not fit in a 64-bit integer is one too (rule <c>overflow</c>): the analysis never reports a wrapped-around count.
/// </summary>
public static class ArchitectureLimits
{
    /// <summary>Input channels, stem channels and stage widths.</summary>
    public const int MaxWidth = 65_536;

    /// <summary>Channels of any node's output (operators such as conv and concat may widen the block internally).</summary>
    public const int MaxNodeChannels = 1_048_576;

    /// <summary>Input resolution (height and width).</summary>
    public const int MaxResolution = 16_384;

    /// <summary>Stem kernel and stride.</summary>
    public const int MaxStemKernel = 64;

    /// <summary>Blocks per stage.</summary>
    public const int MaxBlocks = 1_024;

    /// <summary>Classes of the classifier.</summary>
    public const int MaxClasses = 1_048_576;

    /// <summary>The fewest classes a classifier may have.</summary>
    public const int MinClasses = 2;

    /// <summary>The head's dropout lies in [0, this), this excluded.</summary>
    public const double HeadDropoutBelow = 1;

    /// <summary>The wording of an overflow error: what exceeds what.</summary>
    public static string Overflow(string what) => string.Create(CultureInfo.InvariantCulture, $"{what} exceed {long.MaxValue:N0}, the largest 64-bit count");
}

/// <summary>Validates a spec and computes its shapes and costs analytically, in checked 64-bit arithmetic.</summary>
public static class ArchitectureAnalyzer
{
    private const int BytesPerElement = 4;

    /// <summary>Structural checks of the block that do not depend on shapes: ids, references, arity, parameters, cycles, dead nodes.</summary>
    /// <param name="blockLocation">Where the block is in the spec: <c>block</c> (the shared one) or <c>stages[s].block</c>; errors' locations start with it.</param>
    public static List<ValidationError> ValidateBlockStructure(BlockSpec block, string blockLocation = "block")
    {
        var errors = new List<ValidationError>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < block.Nodes.Count; i++)
        {
            var node = block.Nodes[i];
            var nodeLocation = $"{blockLocation}.nodes[{i}]";
            if (string.IsNullOrWhiteSpace(node.Id) || node.Id == BlockSpec.InputName)
            {
                errors.Add(new(nodeLocation, node.Id, node.Op, "bad-id", $"'{node.Id}' cannot be a node id"));
            }
            else if (!ids.Add(node.Id))
            {
                errors.Add(new(nodeLocation, node.Id, node.Op, "duplicate-id", "another node has the same id"));
            }

            var op = Operators.Find(node.Op);
            if (op is null)
            {
                errors.Add(new(nodeLocation, node.Id, node.Op, "unknown-op",
                    $"unknown operator; known: {string.Join(", ", Operators.All.Select(o => o.Name).Order(StringComparer.Ordinal))}"));
                continue;
            }

            if (node.Inputs.Count < op.MinInputs || node.Inputs.Count > op.MaxInputs)
            {
                var expected = op.MinInputs == op.MaxInputs ? $"{op.MinInputs}" : $"{op.MinInputs} to {op.MaxInputs}";
                errors.Add(new(nodeLocation, node.Id, node.Op, "arity", $"takes {expected} input(s), got {node.Inputs.Count}"));
            }

            errors.AddRange(ValidateParams(nodeLocation, node, op));
        }

        var known = block.Nodes.Select(n => n.Id).Append(BlockSpec.InputName).ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i < block.Nodes.Count; i++)
        {
            foreach (var input in block.Nodes[i].Inputs.Where(x => !known.Contains(x)))
            {
                errors.Add(new($"{blockLocation}.nodes[{i}].inputs", block.Nodes[i].Id, block.Nodes[i].Op, "unknown-input", $"input '{input}' is not a node of the block"));
            }
        }

        if (!known.Contains(block.Output) || block.Output == BlockSpec.InputName)
        {
            errors.Add(new($"{blockLocation}.output", null, null, "unknown-output", $"output '{block.Output}' is not a node of the block"));
        }

        if (errors.Count > 0)
        {
            return errors;
        }

        if (TopologicalOrder(block) is null)
        {
            var cyclic = FindCycle(block);
            errors.Add(new($"{blockLocation}.nodes", cyclic.First(), block.Nodes.First(n => n.Id == cyclic.First()).Op, "cycle",
                $"the block has a cycle: {string.Join(" -> ", cyclic)}"));
            return errors;
        }

        var contributing = new HashSet<string>(StringComparer.Ordinal);
        var byId = block.Nodes.ToDictionary(n => n.Id, StringComparer.Ordinal);
        var stack = new Stack<string>([block.Output]);
        while (stack.Count > 0)
        {
            var id = stack.Pop();
            if (id == BlockSpec.InputName || !contributing.Add(id))
            {
                continue;
            }

            foreach (var input in byId[id].Inputs)
            {
                stack.Push(input);
            }
        }

        foreach (var node in block.Nodes.Where(n => !contributing.Contains(n.Id)))
        {
            errors.Add(new($"{blockLocation}.nodes[{IndexOf(block, node.Id)}]", node.Id, node.Op, "dead-node", "does not contribute to the block output"));
        }

        var fed = new HashSet<string>(StringComparer.Ordinal) { BlockSpec.InputName };
        foreach (var id in TopologicalOrder(block)!.Where(id => byId[id].Inputs.Any(fed.Contains)))
        {
            fed.Add(id);
        }

        if (!fed.Contains(block.Output))
        {
            errors.Add(new($"{blockLocation}.output", null, null, "disconnected", $"output '{block.Output}' does not depend on the block input"));
        }

        return errors;
    }

    /// <summary>Full analysis: structure, shapes at every stage, and costs. Never throws for a bad spec; see <see cref="ArchitectureAnalysis.Errors"/>.</summary>
    public static ArchitectureAnalysis Analyze(ArchitectureSpec spec) => Analyze(spec, null);

    /// <summary>
    /// Full analysis with the costs of LLM-written operators taken from <paramref name="costs"/> (a <c>custom</c> node's
    /// cost cannot be derived from its shape; a worker measures it). An application not found there counts 0 and is
    /// listed in <see cref="ArchitectureAnalysis.Unmeasured"/>; without custom nodes the result is that of <see cref="Analyze(ArchitectureSpec)"/>.
    /// </summary>
    public static ArchitectureAnalysis Analyze(ArchitectureSpec spec, IOperatorCosts? costs)
    {
        var unmeasured = new List<string>();
        var errors = ValidateMacro(spec);
        errors.AddRange(ValidateBlockStructure(spec.Block));
        for (var s = 0; s < spec.Stages.Count; s++)
        {
            if (spec.Stages[s].Block is { } own)
            {
                errors.AddRange(ValidateBlockStructure(own, StageBlockLocation(s)).Select(e => e with { Message = $"{e.Message} (in the block of stage {s})" }));
            }
        }

        if (errors.Count > 0)
        {
            return new(errors, [], 0, 0, 0);
        }
        OperatorApplication stem;
        long parameters, macs, peak;
        try
        {
            stem = NetworkParts.Stem(spec);
            parameters = stem.Parameters;
            macs = stem.Macs;
            peak = checked((spec.Input.Channels * (long)spec.Input.Resolution * spec.Input.Resolution) + stem.Output.Elements);
        }
        catch (OverflowException)
        {
            return new([new("stem", null, null, "overflow", $"the stem's {ArchitectureLimits.Overflow("parameters or multiply-accumulates")}")], [], 0, 0, 0);
        }

        var current = stem.Output;
        var stages = new List<StageAnalysis>();
        for (var s = 0; s < spec.Stages.Count; s++)
        {
            var stage = spec.Stages[s];
            if (stage.Downsample == DownsampleKind.ResidualReduction && current.H % 2 == 1)
            {
                // Its strided-conv path rounds up and its average-pool shortcut rounds down, so they cannot be added.
                errors.Add(new($"stages[{s}].downsample", null, null, "odd-resolution",
                    $"stage {s}: ResidualReduction needs an even resolution but receives {current.H} x {current.W}; use StridedConv or AvgPoolConv"));
                break;
            }

            OperatorApplication? down;
            try
            {
                down = NetworkParts.Downsample(stage.Downsample, current, stage.Width);
            }
            catch (OverflowException)
            {
                errors.Add(new($"stages[{s}].downsample", null, null, "overflow", $"stage {s}: the {stage.Downsample} step's {ArchitectureLimits.Overflow("parameters or multiply-accumulates")}"));
                break;
            }

            if (down is null)
            {
                errors.Add(new($"stages[{s}]", null, null, "width-mismatch",
                    $"stage {s} has width {stage.Width} but receives {current.C} channels and its downsample is None"));
                break;
            }

            var previous = current;
            current = down.Output;
            if (current.H < 1)
            {
                errors.Add(new($"stages[{s}]", null, null, "resolution", $"stage {s} would run at resolution below 1"));
                break;
            }

            Dictionary<string, Shape> shapes;
            long blockParameters, blockMacs, blockPeak;
            List<ValidationError> blockErrors;
            try
            {
                var block = spec.BlockOf(s);
                (shapes, blockParameters, blockMacs, blockPeak, blockErrors) = AnalyzeBlock(block, TopologicalOrder(block)!, current, s, stage.Block is null ? "block" : StageBlockLocation(s), costs, unmeasured);
            }
            catch (OverflowException)
            {
                errors.Add(new($"stages[{s}].block", null, null, "overflow", $"stage {s}: the block's {ArchitectureLimits.Overflow("activation elements")}"));
                break;
            }

            errors.AddRange(blockErrors);
            if (blockErrors.Count > 0)
            {
                break;
            }

            try
            {
                checked
                {
                    parameters += down.Parameters + (blockParameters * stage.Blocks);
                    macs += down.Macs + (blockMacs * stage.Blocks);
                    peak = Math.Max(peak, Math.Max(previous.Elements + current.Elements, blockPeak));
                }
            }
            catch (OverflowException)
            {
                errors.Add(new($"stages[{s}]", null, null, "overflow",
                    string.Create(CultureInfo.InvariantCulture, $"stage {s} ({stage.Blocks} blocks at width {stage.Width}): the network's {ArchitectureLimits.Overflow("parameters or multiply-accumulates")}")));
                break;
            }

            stages.Add(new(s, stage.Width, current.H, shapes, blockParameters, blockMacs));
        }

        if (errors.Count > 0)
        {
            return new(errors, stages, 0, 0, 0);
        }

        try
        {
            checked
            {
                var head = NetworkParts.Head.Apply(spec, current);
                return new(errors, stages, parameters + head.Parameters, macs + head.Macs, peak * BytesPerElement) { Unmeasured = unmeasured.Distinct().ToList() };
            }
        }
        catch (OverflowException)
        {
            return new([new("head", null, null, "overflow", $"with the head, the network's {ArchitectureLimits.Overflow("parameters, multiply-accumulates or activation bytes")}")], stages, 0, 0, 0);
        }
    }

    /// <summary>Node ids in an order where every node follows its inputs (declaration order breaks ties), or null on a cycle.</summary>
    public static List<string>? TopologicalOrder(BlockSpec block)
    {
        var pending = block.Nodes.ToDictionary(n => n.Id, n => n.Inputs.Count(i => i != BlockSpec.InputName), StringComparer.Ordinal);
        var consumers = block.Nodes.SelectMany(n => n.Inputs.Where(i => i != BlockSpec.InputName).Select(i => (From: i, To: n.Id)))
            .ToLookup(e => e.From, e => e.To, StringComparer.Ordinal);
        var order = new List<string>();
        var ready = new SortedSet<int>(block.Nodes.Select((n, i) => (n, i)).Where(x => pending[x.n.Id] == 0).Select(x => x.i));
        var index = block.Nodes.Select((n, i) => (n.Id, i)).ToDictionary(x => x.Id, x => x.i, StringComparer.Ordinal);
        while (ready.Count > 0)
        {
            var next = ready.Min;
            ready.Remove(next);
            var id = block.Nodes[next].Id;
            order.Add(id);
            foreach (var consumer in consumers[id])
            {
                if (--pending[consumer] == 0)
                {
                    ready.Add(index[consumer]);
                }
            }
        }

        return order.Count == block.Nodes.Count ? order : null;
    }

    private static (Dictionary<string, Shape> Shapes, long Parameters, long Macs, long Peak, List<ValidationError> Errors) AnalyzeBlock(
        BlockSpec block, List<string> order, Shape input, int stageIndex, string blockLocation, IOperatorCosts? costs, List<string> unmeasured)
    {
        var byId = block.Nodes.ToDictionary(n => n.Id, StringComparer.Ordinal);
        var shapes = new Dictionary<string, Shape>(StringComparer.Ordinal) { [BlockSpec.InputName] = input };
        var errors = new List<ValidationError>();
        long parameters = 0, macs = 0;
        foreach (var id in order)
        {
            var node = byId[id];
            var op = Operators.Get(node.Op);
            var location = $"stages[{stageIndex}].block.nodes[{IndexOf(block, id)}]";
            try
            {
                var cost = op.Apply(new OperatorArguments(node.Inputs.Select(i => shapes[i]).ToList(), input.C, WithDefaults(node, op)));
                if (cost.Output.C > ArchitectureLimits.MaxNodeChannels)
                {
                    throw new ShapeRuleException("too-large",
                        string.Create(CultureInfo.InvariantCulture, $"its output has {cost.Output.C:N0} channels; a node may produce at most {ArchitectureLimits.MaxNodeChannels:N0}"));
                }

                if (node.Op == OperatorSources.OperatorName)
                {
                    cost = Measured(cost, node.Inputs.Select(i => shapes[i]).First(), costs, unmeasured);
                }

                shapes[id] = cost.Output;
                parameters = checked(parameters + cost.Parameters);
                macs = checked(macs + cost.Macs);
            }
            catch (ShapeRuleException e)
            {
                errors.Add(new(location, id, node.Op, e.Rule, $"{e.Message} (stage {stageIndex}, width {input.C}, resolution {input.H})"));
                return (shapes, 0, 0, 0, errors);
            }
            catch (OverflowException)
            {
                errors.Add(new(location, id, node.Op, "overflow", string.Create(CultureInfo.InvariantCulture,
                    $"its size overflows: more than {int.MaxValue:N0} channels, or the block's {ArchitectureLimits.Overflow("parameters or multiply-accumulates")} (stage {stageIndex}, width {input.C}, resolution {input.H})")));
                return (shapes, 0, 0, 0, errors);
            }
        }

        if (shapes[block.Output] != input)
        {
            errors.Add(new($"{blockLocation}.output", block.Output, byId[block.Output].Op, "output-shape",
                $"block output has shape {shapes[block.Output]} but must keep the block's input shape {input} (stage {stageIndex})"));
        }

        // Peak: walk the order, freeing each tensor after its last consumer.
        var lastUse = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var step = 0; step < order.Count; step++)
        {
            foreach (var i in byId[order[step]].Inputs)
            {
                lastUse[i] = step;
            }
        }

        lastUse[block.Output] = order.Count;
        var live = new HashSet<string>(StringComparer.Ordinal) { BlockSpec.InputName };
        long peak = input.Elements;
        for (var step = 0; step < order.Count; step++)
        {
            live.Add(order[step]);
            peak = Math.Max(peak, live.Sum(x => shapes[x].Elements));
            live.RemoveWhere(x => lastUse.GetValueOrDefault(x, -1) <= step && x != block.Output);
        }

        return (shapes.Where(s => s.Key != BlockSpec.InputName).ToDictionary(StringComparer.Ordinal), parameters, macs, peak, errors);
    }

    /// <summary>A custom node's application with its measured cost, or unchanged (cost 0) and listed as unmeasured.</summary>
    private static OperatorApplication Measured(OperatorApplication application, Shape input, IOperatorCosts? costs, List<string> unmeasured)
    {
        var arguments = application.Layer!.Arguments.ToDictionary(a => a.Name, a => a.Value, StringComparer.Ordinal);
        var (source, inChannels, outChannels, stride) = ((string)arguments["source"], (int)arguments["inChannels"], (int)arguments["outChannels"], (int)arguments["stride"]);
        if (costs?.Find(source, inChannels, outChannels, stride, input.H, input.W) is { } measured)
        {
            return application with { Parameters = measured.Parameters, Macs = measured.Macs };
        }

        unmeasured.Add($"operator {source} ({new OperatorCost(inChannels, outChannels, stride, input.H, input.W, 0, 0)})");
        return application;
    }

    /// <summary>The node's parameters with every omitted one set to its default.</summary>
    public static SortedDictionary<string, ParamValue> WithDefaults(NodeSpec node, OperatorDefinition op)
    {
        var values = new SortedDictionary<string, ParamValue>(StringComparer.Ordinal);
        foreach (var schema in op.Params)
        {
            values[schema.Name] = node.Params.TryGetValue(schema.Name, out var value) ? value : schema.Default;
        }

        return values;
    }

    private static IEnumerable<ValidationError> ValidateParams(string location, NodeSpec node, OperatorDefinition op)
    {
        var schemas = op.Params.ToDictionary(p => p.Name, StringComparer.Ordinal);
        foreach (var (name, value) in node.Params)
        {
            if (!schemas.TryGetValue(name, out var schema))
            {
                var known = op.Params.Count == 0 ? "it takes none" : "known: " + string.Join(", ", op.Params.Select(p => p.Name));
                yield return new($"{location}.params.{name}", node.Id, node.Op, "unknown-param", $"unknown parameter '{name}'; {known}");
                continue;
            }

            var problem = schema.Kind switch
            {
                ParamKind.Int when value.Number is not { } n || n != Math.Floor(n) => "must be an integer",
                ParamKind.Number when value.Number is null => "must be a number",
                ParamKind.Text when value.Text is null => "must be a string",
                ParamKind.Flag when value.Flag is null => "must be true or false",
                ParamKind.Int or ParamKind.Number when value.Number < schema.Min || value.Number > schema.Max =>
                    $"is {value} but must lie in [{schema.Min.ToString(System.Globalization.CultureInfo.InvariantCulture)}, {schema.Max.ToString(System.Globalization.CultureInfo.InvariantCulture)}]",
                ParamKind.Text when schema.Choices is { } choices && !choices.Contains(value.Text) => $"is '{value}' but must be one of {string.Join(", ", schema.Choices)}",
                _ => null,
            };
            if (problem is not null)
            {
                yield return new($"{location}.params.{name}", node.Id, node.Op, "bad-param", $"parameter '{name}' {problem}");
            }
        }
    }

    private static List<ValidationError> ValidateMacro(ArchitectureSpec spec)
    {
        var errors = new List<ValidationError>();
        void Check(bool ok, string location, string rule, string message)
        {
            if (!ok)
            {
                errors.Add(new(location, null, null, rule, message));
            }
        }

        Check(spec.Input.Channels >= 1, "input.channels", "range", "input channels must be at least 1");
        Check(spec.Input.Resolution >= 1, "input.resolution", "range", "input resolution must be at least 1");
        Check(spec.Input.Classes >= ArchitectureLimits.MinClasses, "input.classes", "range", $"a classifier needs at least {ArchitectureLimits.MinClasses} classes");
        Check(spec.Stem.Channels >= 1, "stem.channels", "range", "stem channels must be at least 1");
        Check(spec.Stem.Kernel >= 1 && spec.Stem.Stride >= 1, "stem", "range", "stem kernel and stride must be at least 1");
        Check(spec.Stem.Kind != StemKind.Conv || spec.Stem.Kernel % 2 == 1, "stem.kernel", "even-kernel", "a conv stem needs an odd kernel");
        Check(spec.Stem.Kind != StemKind.Patchify || (spec.Stem.Kernel == spec.Stem.Stride && spec.Input.Resolution % Math.Max(1, spec.Stem.Kernel) == 0),
            "stem", "patch-size", $"a patchify stem needs stride = kernel dividing the resolution {spec.Input.Resolution}");
        Check(spec.Stem.Activation == Operators.NoActivation || Operators.Activations.Contains(spec.Stem.Activation), "stem.activation", "bad-param",
            $"stem activation '{spec.Stem.Activation}' is not {Operators.NoActivation} or one of {string.Join(", ", Operators.Activations)}");
        Check(spec.Head.PreActivation == Operators.NoActivation || Operators.Activations.Contains(spec.Head.PreActivation), "head.preActivation", "bad-param",
            $"head pre-activation '{spec.Head.PreActivation}' is not {Operators.NoActivation} or one of {string.Join(", ", Operators.Activations)}");
        Check(spec.Head.Dropout is >= 0 and < ArchitectureLimits.HeadDropoutBelow, "head.dropout", "range", $"head dropout must lie in [0, {ArchitectureLimits.HeadDropoutBelow})");
        Check(spec.Stages.Count >= 1, "stages", "range", "at least one stage is needed");
        for (var s = 0; s < spec.Stages.Count; s++)
        {
            Check(spec.Stages[s].Blocks >= 1, $"stages[{s}].blocks", "range", $"stage {s} needs at least 1 block");
            Check(spec.Stages[s].Width >= 1, $"stages[{s}].width", "range", $"stage {s} needs a width of at least 1");
        }

        // Upper limits, so that no cost below can overflow silently and no absurd network passes a budget check.
        void AtMost(int value, int limit, string location, string what)
        {
            if (value > limit)
            {
                errors.Add(new(location, null, null, "too-large", string.Create(CultureInfo.InvariantCulture, $"{what} is {value:N0}; the limit is {limit:N0}")));
            }
        }

        AtMost(spec.Input.Channels, ArchitectureLimits.MaxWidth, "input.channels", "the number of input channels");
        AtMost(spec.Input.Resolution, ArchitectureLimits.MaxResolution, "input.resolution", "the input resolution");
        AtMost(spec.Input.Classes, ArchitectureLimits.MaxClasses, "input.classes", "the number of classes");
        AtMost(spec.Stem.Channels, ArchitectureLimits.MaxWidth, "stem.channels", "the number of stem channels");
        AtMost(spec.Stem.Kernel, ArchitectureLimits.MaxStemKernel, "stem.kernel", "the stem kernel");
        AtMost(spec.Stem.Stride, ArchitectureLimits.MaxStemKernel, "stem.stride", "the stem stride");
        for (var s = 0; s < spec.Stages.Count; s++)
        {
            AtMost(spec.Stages[s].Blocks, ArchitectureLimits.MaxBlocks, $"stages[{s}].blocks", $"the number of blocks of stage {s}");
            AtMost(spec.Stages[s].Width, ArchitectureLimits.MaxWidth, $"stages[{s}].width", $"the width of stage {s}");
        }

        return errors;
    }

    /// <summary>Where stage <paramref name="stage"/>'s own block is in a spec.</summary>
    public static string StageBlockLocation(int stage) => $"stages[{stage}].block";

    private static int IndexOf(BlockSpec block, string id) => block.Nodes.Select((n, i) => (n, i)).First(x => x.n.Id == id).i;

    private static List<string> FindCycle(BlockSpec block)
    {
        var byId = block.Nodes.ToDictionary(n => n.Id, StringComparer.Ordinal);
        var state = new Dictionary<string, int>(StringComparer.Ordinal);
        var path = new List<string>();
        List<string>? found = null;

        void Visit(string id)
        {
            state[id] = 1;
            path.Add(id);
            foreach (var input in byId[id].Inputs.Where(byId.ContainsKey))
            {
                if (found is not null)
                {
                    return;
                }

                if (state.GetValueOrDefault(input) == 1)
                {
                    found = path.Skip(path.IndexOf(input)).Append(input).ToList();
                    return;
                }

                if (state.GetValueOrDefault(input) == 0)
                {
                    Visit(input);
                }
            }

            path.RemoveAt(path.Count - 1);
            state[id] = 2;
        }

        foreach (var node in block.Nodes.Where(n => found is null && state.GetValueOrDefault(n.Id) == 0))
        {
            Visit(node.Id);
        }

        return found ?? [];
    }
}
