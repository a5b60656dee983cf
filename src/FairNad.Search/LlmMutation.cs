using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FairNad.Architecture;
using FairNad.Knowledge;
using FairNad.Llm;
using Microsoft.Extensions.AI;

namespace FairNad.Search;

/// <summary>What the LLM-driven mutation asks for: realise <see cref="Attribute"/> on <see cref="Parent"/> within the space's budget.</summary>
public sealed record LlmMutationRequest(ArchitectureSpec Parent, AttributeNode Attribute, CategoryNode Category, string Feedback, ArchitectureSpace Space);

/// <summary>The accepted child, the hash of the exchange that produced it, and how many answers it took.</summary>
public sealed record LlmMutationResult<T>(T Candidate, string Transcript, string Summary, int Attempts);

/// <summary>
/// The LLM gave no usable architecture within its repair rounds (the message lists each round's problem), or, with
/// <see cref="ServerFailure"/>, its server kept failing after the session's retries (the message is the server's error).
/// </summary>
public sealed class LlmMutationException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The server failed (down, erroring, too slow), not the answer: no fault of the attribute or the parent.</summary>
    public bool ServerFailure { get; init; }
}

/// <summary>
/// Lets the LLM write operators: <see cref="Store"/> is the run's content-addressed folder of operator sources (what
/// earlier mutations introduced, reusable by hash), and <see cref="Verify"/> runs structural verification of a child and
/// the sources it uses in a worker process, returning null or the problem for the repair round. <see cref="Introduced"/>,
/// when set, hears of each operator an accepted answer wrote (not one it reused by hash), after its source joined the
/// store: the run archives it there (<see cref="OperatorArchive"/>). <see cref="Costs"/>, when set, is the run's table of
/// measured operator costs, which a passing verification fills: the child's parameters are then checked against the
/// budget as measured (see <see cref="LlmSpecMutator.Check(JsonElement, LlmMutationRequest, Func{ArchitectureSpec, string?}, OperatorWriting?)"/>).
/// </summary>
public sealed record OperatorWriting(OperatorStore Store, Func<ArchitectureSpec, IReadOnlyDictionary<string, string>, string?> Verify,
    OperatorCostTable? Costs = null, Action<OperatorIntroduction>? Introduced = null);

/// <summary>An operator an accepted answer wrote: its reference and source, the child that uses it, and the attribute the mutation realised.</summary>
public sealed record OperatorIntroduction(string Reference, string Source, ArchitectureSpec Candidate, AttributeNode Attribute);

/// <summary>The LLM-driven mutation, behind an interface so the strategy can be tested against a scripted mutator.</summary>
public interface ILlmMutator<T>
{
    /// <summary>Asks for a child of <paramref name="parent"/> that realises <paramref name="attribute"/>, quoting <paramref name="feedback"/>.</summary>
    /// <exception cref="LlmMutationException">no valid child after the repair rounds, or the server failed after its retries.</exception>
    Task<LlmMutationResult<T>> MutateAsync(T parent, AttributeNode attribute, CategoryNode category, string feedback, CancellationToken cancel = default);
}

/// <summary>
/// LLM-driven iterative mutation: the LLM gets the parent's spec and generated code, the attribute to realise and the
/// feedback so far, and answers with a modified spec (JSON schema). The answer must parse, keep the input, validate
/// (shapes, operators, parameters), fit the budget (over-budget answers are width-scaled), differ from the parent and
/// pass <paramref name="check"/> (the evaluation layer compiles the generated code there); each problem goes back to the
/// LLM for repair, up to the session's attempt limit. Every exchange is recorded by <see cref="LlmSession"/>, so a run
/// replays without the LLM.
/// </summary>
/// <param name="operators">When set, the LLM may also answer with operators it writes (see <see cref="OperatorWriting"/>);
/// the prompt and the schema then describe the <c>custom</c> operator and its contract. Without it both stay as they were,
/// so recorded exchanges of earlier runs replay unchanged.</param>
public sealed class LlmSpecMutator(LlmSession session, ArchitectureSpace space, Func<ArchitectureSpec, string?>? check = null, OperatorWriting? operators = null) : ILlmMutator<ArchitectureSpec>
{
    public const string Stage = "mutate";

    /// <summary>The contract of an LLM-written operator, as the prompt states it.</summary>
    public const string OperatorContract =
        "An operator you write is C# source of exactly one public class deriving from nn.Module<Tensor, Tensor> (TorchSharp), with a public constructor " +
        "(string name, long inChannels, long outChannels, long stride) that calls base(name), creates its layers and ends with RegisterComponents(), " +
        "and a forward(Tensor input) that maps [N, inChannels, H, W] to [N, outChannels, ceil(H / stride), ceil(W / stride)]. Every parameter must be used in forward. " +
        "Start the file with `using System; using TorchSharp; using static TorchSharp.torch;`. It may use TorchSharp's tensor, nn and functional APIs, System.Math/MathF, primitive types, " +
        "System.Linq and collections; it may not use files, networking, processes, reflection, threads, unsafe code, native calls, Environment, GC or static mutable state. " +
        "It is compiled, run forward and backward and measured in a sandboxed worker; any error comes back to you with its line. " +
        "Put each operator's source in \"operators\" and use it with a node {\"op\": \"custom\", \"params\": {\"source\": \"sha256:<hex SHA-256 of the UTF-8 source>\", \"out\": ratio, \"stride\": s}}; " +
        "instead of computing the hash you may write \"source\": \"operators[i]\" (the i-th source of your answer, from 0). An operator already in the run may be reused by its sha256 without repeating its source.";

    /// <summary>An example operator for the prompt: a ghost module (half the channels by a 1 x 1 convolution, half by a cheap depthwise one).</summary>
    public const string OperatorExample = """
        using System;
        using TorchSharp;
        using static TorchSharp.torch;

        public sealed class GhostModule : nn.Module<Tensor, Tensor>
        {
            private readonly nn.Module<Tensor, Tensor> primary;
            private readonly nn.Module<Tensor, Tensor> cheap;
            private readonly long rest;

            public GhostModule(string name, long inChannels, long outChannels, long stride)
                : base(name)
            {
                var half = (outChannels + 1) / 2;
                primary = nn.Sequential(nn.Conv2d(inChannels, half, 1, stride: stride, bias: false), nn.BatchNorm2d(half), nn.ReLU());
                rest = outChannels - half;
                cheap = nn.Sequential(nn.Conv2d(half, half, 3, padding: 1, groups: half, bias: false), nn.BatchNorm2d(half), nn.ReLU());
                RegisterComponents();
            }

            public override Tensor forward(Tensor input)
            {
                var x = primary.forward(input);
                return torch.cat([x, cheap.forward(x).narrow(1, 0, rest)], 1);
            }
        }

        """;

    /// <summary>The prefix of a node's <c>source</c> that points at one of the answer's own operators by position.</summary>
    public const string AnswerOperatorPrefix = "operators[";
    /// <summary>
    /// Ollama's <c>format</c>: a one-sentence summary and the architecture, whose schema is <see cref="SpecSchema"/> (the
    /// IR's fields, enums, operators with their arity and typed parameters, and ranges), so every answer parses into a
    /// well-typed spec. What no schema expresses (shapes, references between nodes, cycles, the budget) is checked by
    /// <see cref="Check"/> and sent back for repair.
    /// </summary>
    public static JsonElement Schema { get; } = JsonSerializer.SerializeToElement(new JsonObject
    {
        ["type"] = "object",
        ["properties"] = new JsonObject
        {
            ["summary"] = new JsonObject { ["type"] = "string", ["minLength"] = 1 },
            ["architecture"] = SpecSchema.ToNode(),
        },
        ["required"] = new JsonArray("summary", "architecture"),
        ["additionalProperties"] = false,
    });

    /// <summary>
    /// <see cref="Schema"/> for a mutator that lets the LLM write operators: the architecture may use the <c>custom</c>
    /// operator, and an optional <c>operators</c> list holds the C# sources the answer introduces.
    /// </summary>
    public static JsonElement SchemaWithOperators { get; } = JsonSerializer.SerializeToElement(new JsonObject
    {
        ["type"] = "object",
        ["properties"] = new JsonObject
        {
            ["summary"] = new JsonObject { ["type"] = "string", ["minLength"] = 1 },
            ["architecture"] = SpecSchema.ToNodeWithCustom(),
            ["operators"] = new JsonObject
            {
                ["type"] = "array",
                ["items"] = new JsonObject
                {
                    ["type"] = "object",
                    ["properties"] = new JsonObject { ["source"] = new JsonObject { ["type"] = "string", ["minLength"] = 1 } },
                    ["required"] = new JsonArray("source"),
                    ["additionalProperties"] = false,
                },
            },
        },
        ["required"] = new JsonArray("summary", "architecture"),
        ["additionalProperties"] = false,
    });

    /// <summary><see cref="Schema"/> for a stage-wise parent (<see cref="SpecSchema.ToNodeStageWise"/>).</summary>
    public static JsonElement SchemaStageWise { get; } = AnswerSchema(SpecSchema.ToNodeStageWise(includeCustom: false), withOperators: false);

    /// <summary><see cref="SchemaWithOperators"/> for a stage-wise parent.</summary>
    public static JsonElement SchemaStageWiseWithOperators { get; } = AnswerSchema(SpecSchema.ToNodeStageWise(includeCustom: true), withOperators: true);

    /// <summary>
    /// Whether a parent needs the stage-wise vocabulary: it has stage blocks or uses an operator not offered yet
    /// (<see cref="Operators.NotYetOffered"/>). Only such parents get it, so every other prompt stays as recorded.
    /// </summary>
    public static bool IsStageWise(ArchitectureSpec parent) =>
        parent.HasStageBlocks || parent.AllBlocks.SelectMany(b => b.Nodes).Any(n => Operators.NotYetOffered.Contains(n.Op));

    /// <summary>
    /// Whether the prompt and schema offer the stage-wise vocabulary (stage blocks, every operator): for a stage-wise
    /// parent, and always when the LLM may write operators, the open-ended setting, whose prompt differs from the
    /// closed one anyway; a closed search on a plain parent keeps the prompt its recorded exchanges were asked with.
    /// </summary>
    public static bool OffersStageWise(ArchitectureSpec parent, bool withOperators) => withOperators || IsStageWise(parent);

    /// <summary>The answer's schema for this parent and mutator.</summary>
    public static JsonElement SchemaFor(ArchitectureSpec parent, bool withOperators) =>
        OffersStageWise(parent, withOperators) ? (withOperators ? SchemaStageWiseWithOperators : SchemaStageWise) : Schema;

    private static JsonElement AnswerSchema(JsonObject architecture, bool withOperators)
    {
        var properties = new JsonObject
        {
            ["summary"] = new JsonObject { ["type"] = "string", ["minLength"] = 1 },
            ["architecture"] = architecture,
        };
        if (withOperators)
        {
            properties["operators"] = new JsonObject
            {
                ["type"] = "array",
                ["items"] = new JsonObject
                {
                    ["type"] = "object",
                    ["properties"] = new JsonObject { ["source"] = new JsonObject { ["type"] = "string", ["minLength"] = 1 } },
                    ["required"] = new JsonArray("source"),
                    ["additionalProperties"] = false,
                },
            };
        }

        return JsonSerializer.SerializeToElement(new JsonObject
        {
            ["type"] = "object",
            ["properties"] = properties,
            ["required"] = new JsonArray("summary", "architecture"),
            ["additionalProperties"] = false,
        });
    }

    public static IReadOnlyList<ChatMessage> Prompt(LlmMutationRequest request) => Prompt(request, null);

    /// <summary>The prompt; with <paramref name="operators"/>, it also lists the custom operator, its contract, an example and the run's operators.</summary>
    public static IReadOnlyList<ChatMessage> Prompt(LlmMutationRequest request, OperatorStore? store)
    {
        var operators = new StringBuilder();
        var stageWise = OffersStageWise(request.Parent, store is not null);
        var library = stageWise ? Operators.All : Operators.Offered;
        foreach (var op in (store is null ? library : library.Append(Operators.Custom)).OrderBy(o => o.Name, StringComparer.Ordinal))
        {
            var inputs = op.MinInputs == op.MaxInputs ? $"{op.MinInputs} input{(op.MinInputs == 1 ? string.Empty : "s")}" : $"{op.MinInputs} to {op.MaxInputs} inputs";
            var parameters = op.Params.Count == 0 ? "no params" : "params " + string.Join(", ", op.Params.Select(p => $"{p.Name}={p.Default}"));
            operators.Append(CultureInfo.InvariantCulture, $"- {op.Name} ({inputs}; {parameters}): {op.Description}\n");
        }

        var parent = request.Parent;
        var analysis = ArchitectureAnalyzer.Analyze(parent);
        var activations = string.Join(", ", Operators.Activations);
        var system =
            "You are a neural architecture designer. An architecture is a JSON object with these fields:\n" +
            "- \"input\": {channels, resolution, classes} of the dataset.\n" +
            $"- \"stem\": {{kind ({string.Join(" or ", Enum.GetNames<StemKind>())}), channels, kernel, stride, activation}}.\n" +
            $"- \"stages\": a list of {{blocks, width, downsample}}: each stage repeats the block \"blocks\" times at \"width\" channels, after a downsample step ({string.Join(", ", Enum.GetNames<DownsampleKind>())}; None only when the width does not change).\n" +
            $"- \"block\": {{nodes, output}}, the one block design every stage repeats: a DAG of \"nodes\", each {{id, op, inputs, params}}; \"inputs\" lists node ids, and \"{BlockSpec.InputName}\" is the block's input; \"params\" may omit any parameter to take its default; \"output\" is the id of the node that leaves the block, which must keep the block input's shape; node ids are unique, and every node must feed into \"output\".\n" +
            (stageWise ? $"- A stage may also have its own \"block\": a block like the top-level one, or \"{SpecJson.PreviousBlock}\" for the previous stage's block; a stage without one repeats the top-level \"block\".\n" : string.Empty) +
            $"- \"head\": {{preActivation, dropout}}; preActivation (and the stem's activation) is \"{Operators.NoActivation}\" or an activation.\n" +
            "Channel parameters such as \"out\" are ratios of the stage width (out 1.0 = the stage width), so one block design fits every stage. " +
            $"Activations: {activations}. Operators (\"op\") you may use, with their parameters and defaults:\n" + operators +
            "Change the given architecture so that it realises the requested design attribute, keep everything else unless the attribute needs it, " +
            "keep the top-level \"input\" unchanged, and stay within the parameter budget. Reply with JSON only: {\"summary\": one sentence saying what you changed, " +
            "\"architecture\": the complete modified architecture" + (store is null ? "}." : ", \"operators\": [{\"source\": C# source}, ...] (optional)}.\n" +
            OperatorContract + "\nExample operator:\n```csharp\n" + OperatorExample + "```");
        var user = new StringBuilder();
        user.Append(CultureInfo.InvariantCulture, $"Attribute to realise: {request.Attribute.Name} ({request.Attribute.Id}, category {request.Category.Name}, aims at {request.Attribute.Effect})\n");
        user.Append(CultureInfo.InvariantCulture, $"What it means: {request.Attribute.Description}\n");
        user.Append(CultureInfo.InvariantCulture, $"Parameter budget: {request.Space.Budget:N0}; the parent has {analysis.Parameters:N0} parameters and {analysis.Macs:N0} MACs.\n");
        user.Append("Results of earlier tries of this attribute and its category:\n").Append(request.Feedback);
        if (store is not null && Directory.Exists(store.Directory))
        {
            var known = Directory.GetFiles(store.Directory, "*.cs").Select(f => OperatorSources.Prefix + Path.GetFileNameWithoutExtension(f)).Order(StringComparer.Ordinal).ToList();
            if (known.Count > 0)
            {
                user.Append("Operators already written in this run (reuse by sha256): ").Append(string.Join(", ", known)).Append('\n');
            }
        }

        user.Append("Parent architecture:\n```json\n").Append(SpecJson.Write(parent)).Append("```\n");
        user.Append("Its generated TorchSharp code (for reference):\n```csharp\n").Append(FairNad.Architecture.Models.TorchSharpCodeWriter.Write(parent)).Append("```\n");
        if (store is not null)
        {
            foreach (var reference in OperatorSources.References(parent).Where(store.Contains))
            {
                user.Append(CultureInfo.InvariantCulture, $"Source of its operator {reference}:\n```csharp\n").Append(store.Get(reference)).Append("```\n");
            }
        }
        return [new ChatMessage(ChatRole.System, system), new ChatMessage(ChatRole.User, user.ToString())];
    }

    /// <summary>The child an answer describes, or the problem to send back for repair.</summary>
    public static (ArchitectureSpec? Child, string? Problem) Check(JsonElement answer, LlmMutationRequest request, Func<ArchitectureSpec, string?>? check = null)
    {
        var (child, problem, _) = Check(answer, request, check, null);
        return (child, problem);
    }

    /// <summary>
    /// The child an answer describes and the operator sources it uses (by reference), or the problem to send back. With
    /// <paramref name="operators"/>, the answer's <c>operators</c> are read, positional references (<c>operators[i]</c>)
    /// become hashes, every <c>custom</c> node must name a source of the answer or of the run, and the child is verified
    /// in a worker (<see cref="OperatorWriting.Verify"/>).
    /// </summary>
    public static (ArchitectureSpec? Child, string? Problem, IReadOnlyDictionary<string, string> Sources) Check(JsonElement answer, LlmMutationRequest request,
        Func<ArchitectureSpec, string?>? check, OperatorWriting? operators)
    {
        var none = new Dictionary<string, string>(StringComparer.Ordinal);
        var (child, problem, sources) = CheckCore(answer, request, check, operators);
        return (child, problem, sources ?? none);
    }

    private static (ArchitectureSpec? Child, string? Problem, IReadOnlyDictionary<string, string>? Sources) CheckCore(JsonElement answer, LlmMutationRequest request,
        Func<ArchitectureSpec, string?>? check, OperatorWriting? operators)
    {
        var written = new List<string>();
        if (answer.ValueKind == JsonValueKind.Object && answer.TryGetProperty("operators", out var list))
        {
            if (operators is null)
            {
                return (null, "'operators' is not allowed: this search does not let you write operators; use the listed operators", null);
            }

            if (list.ValueKind != JsonValueKind.Array)
            {
                return (null, "'operators' must be an array of {\"source\": C# source}", null);
            }

            foreach (var (item, i) in list.EnumerateArray().Select((x, i) => (x, i)))
            {
                if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("source", out var text) || text.ValueKind != JsonValueKind.String || text.GetString()!.Trim().Length == 0)
                {
                    return (null, $"operators[{i}] must be an object with a non-empty 'source' string", null);
                }

                written.Add(text.GetString()!);
            }
        }

        if (answer.ValueKind != JsonValueKind.Object || !answer.TryGetProperty("architecture", out var architecture) || architecture.ValueKind != JsonValueKind.Object)
        {
            return (null, "the answer must be an object with an 'architecture' object", null);
        }

        if (!answer.TryGetProperty("summary", out var summary) || summary.ValueKind != JsonValueKind.String || summary.GetString()!.Trim().Length == 0)
        {
            return (null, "'summary' must be a non-empty string", null);
        }

        ArchitectureSpec spec;
        try
        {
            spec = SpecJson.Read(architecture.GetRawText(), "architecture");
        }
        catch (SpecFormatException e)
        {
            return (null, e.Message, null);
        }

        var sources = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (operators is not null)
        {
            (spec, var referenceProblem) = ResolveReferences(spec, written);
            if (referenceProblem is not null)
            {
                return (null, referenceProblem, null);
            }

            foreach (var reference in OperatorSources.References(spec))
            {
                var source = written.FirstOrDefault(w => OperatorSources.Hash(w) == reference) ?? (operators.Store.Contains(reference) ? operators.Store.Get(reference) : null);
                if (source is null)
                {
                    return (null, $"a custom node uses source {reference}, which is neither the SHA-256 of one of your 'operators' nor an operator of this run; write \"operators[i]\" to point at your i-th source", null);
                }

                sources[reference] = source;
            }
        }

        if (spec.Input != request.Parent.Input)
        {
            return (null, $"the input must stay {JsonSerializer.Serialize(request.Parent.Input)}", null);
        }

        var analysis = ArchitectureAnalyzer.Analyze(spec);
        if (!analysis.IsValid)
        {
            return (null, "the architecture is invalid: " + string.Join("; ", analysis.Errors.Take(6)), null);
        }

        ArchitectureSpec fitted;
        try
        {
            fitted = request.Space.FitBudget(spec);
        }
        catch (InvalidOperationException e)
        {
            return (null, $"it cannot be fitted to the budget of {request.Space.Budget:N0} parameters ({e.Message})", null);
        }

        if (fitted.Id == request.Parent.Id)
        {
            return (null, "the architecture is unchanged; realise the attribute", null);
        }

        if (check?.Invoke(fitted) is { } problem)
        {
            return (null, problem, null);
        }

        if (operators is not null && sources.Count > 0 && operators.Verify(fitted, sources) is { } failed)
        {
            return (null, "structural verification failed: " + failed, null);
        }

        if (operators is { Costs: { } costs } && sources.Count > 0)
        {
            var (measured, overBudget) = WithinBudgetAsMeasured(spec, fitted, request, check, operators, costs, sources);
            if (measured is null)
            {
                return (null, overBudget, null);
            }

            fitted = measured;
        }

        return (fitted, null, sources);
    }

    /// <summary>
    /// The child checked against the budget with its operators' measured costs (the first fit counted them as 0, not yet
    /// knowing them). Over budget, it is fitted again with the estimate from the operators' probe measurements
    /// (<see cref="OperatorCostTable.Estimates"/>), verified and measured again; still over budget, it goes back for repair.
    /// Every figure here is measured or estimated from fixed probes, so a replay refits the same way.
    /// </summary>
    private static (ArchitectureSpec? Child, string? Problem) WithinBudgetAsMeasured(ArchitectureSpec spec, ArchitectureSpec fitted, LlmMutationRequest request,
        Func<ArchitectureSpec, string?>? check, OperatorWriting operators, OperatorCostTable costs, IReadOnlyDictionary<string, string> sources)
    {
        var measured = ArchitectureAnalyzer.Analyze(fitted, costs);
        if (measured.Unmeasured.Count > 0)
        {
            return (null, "verification passed but measured no cost for " + string.Join("; ", measured.Unmeasured.Take(4)));
        }

        if (measured.IsValid && measured.Parameters <= request.Space.Budget)
        {
            return (fitted, null);
        }

        ArchitectureSpec refitted;
        try
        {
            refitted = request.Space.FitBudget(spec, costs.Estimates);
        }
        catch (InvalidOperationException e)
        {
            return (null, OverBudget(measured, request, $" and no width fits it ({e.Message})"));
        }

        if (refitted.Id == fitted.Id || refitted.Id == request.Parent.Id)
        {
            return (null, OverBudget(measured, request, string.Empty));
        }

        if (check?.Invoke(refitted) is { } problem)
        {
            return (null, problem);
        }

        if (operators.Verify(refitted, sources) is { } failed)
        {
            return (null, "structural verification failed: " + failed);
        }

        var remeasured = ArchitectureAnalyzer.Analyze(refitted, costs);
        return remeasured.Unmeasured.Count > 0
            ? (null, "verification passed but measured no cost for " + string.Join("; ", remeasured.Unmeasured.Take(4)))
            : remeasured.IsValid && remeasured.Parameters <= request.Space.Budget
            ? (refitted, null)
            : (null, OverBudget(remeasured, request, " even after fitting its widths to the operators' measured costs"));
    }

    private static string OverBudget(ArchitectureAnalysis measured, LlmMutationRequest request, string detail) =>
        string.Create(CultureInfo.InvariantCulture,
            $"with your operators' costs measured, the architecture has {measured.Parameters:N0} parameters, over the budget of {request.Space.Budget:N0}{detail}; make the operator or the block cheaper");

    /// <summary>Replaces positional references <c>operators[i]</c> by the hash of the answer's i-th source.</summary>
    private static (ArchitectureSpec Spec, string? Problem) ResolveReferences(ArchitectureSpec spec, IReadOnlyList<string> written)
    {
        var (block, problem) = ResolveReferences(spec.Block, written);
        var stages = new List<StageSpec>();
        foreach (var stage in spec.Stages)
        {
            if (problem is null && stage.Block is { } own)
            {
                (own, problem) = ResolveReferences(own, written);
                stages.Add(stage with { Block = own });
            }
            else
            {
                stages.Add(stage);
            }
        }

        return problem is null ? (spec with { Block = block, Stages = stages }, null) : (spec, problem);
    }

    /// <summary>The same for one block (the shared one, or a stage's own).</summary>
    private static (BlockSpec Block, string? Problem) ResolveReferences(BlockSpec block, IReadOnlyList<string> written)
    {
        var nodes = new List<NodeSpec>();
        foreach (var node in block.Nodes)
        {
            if (node.Op == OperatorSources.OperatorName && node.Params.TryGetValue("source", out var value) && value.Text is { } text && text.StartsWith(AnswerOperatorPrefix, StringComparison.Ordinal))
            {
                var inner = text[AnswerOperatorPrefix.Length..].TrimEnd(']');
                if (!text.EndsWith(']') || !int.TryParse(inner, NumberStyles.None, CultureInfo.InvariantCulture, out var index) || index >= written.Count)
                {
                    return (block, $"node '{node.Id}': source '{text}' does not point at one of your {written.Count} operator(s)");
                }

                nodes.Add(node.With("source", OperatorSources.Hash(written[index])));
            }
            else
            {
                nodes.Add(node);
            }
        }

        return (block with { Nodes = nodes }, null);
    }

    public async Task<LlmMutationResult<ArchitectureSpec>> MutateAsync(ArchitectureSpec parent, AttributeNode attribute, CategoryNode category, string feedback, CancellationToken cancel = default)
    {
        var request = new LlmMutationRequest(parent, attribute, category, feedback, space);
        var prompt = Prompt(request, operators?.Store);
        var attempts = 0;
        ArchitectureSpec? child = null;
        IReadOnlyDictionary<string, string> sources = new Dictionary<string, string>();

        // The answer is a whole spec, about as long as the parent's, plus a sentence.
        var answerTokens = (int)Math.Ceiling(Encoding.UTF8.GetByteCount(SpecJson.Write(parent)) / LlmSession.BytesPerToken) + 64;
        JsonElement answer;
        try
        {
            answer = await session.AskJsonAsync(Stage, prompt, SchemaFor(parent, operators is not null), a =>
            {
                attempts++;
                (child, var problem, sources) = Check(a, request, check, operators);
                return problem;
            }, cancel, answerTokens + (operators is null ? 0 : 1024)).ConfigureAwait(false);
        }
        catch (LlmOutputException e)
        {
            throw new LlmMutationException($"attribute {request.Attribute.Id} on {request.Parent.Id[..12]}: {e.Message}", e);
        }
        catch (LlmUnavailableException e)
        {
            throw new LlmMutationException($"attribute {request.Attribute.Id} on {request.Parent.Id[..12]}: the LLM server failed: {e.Message}", e) { ServerFailure = true };
        }

        // Verified sources join the run's store only now, with the child that uses them: a rejected attempt leaves nothing.
        foreach (var source in sources.Values)
        {
            operators!.Store.Put(source);
        }

        if (operators?.Introduced is { } introduced && answer.TryGetProperty("operators", out var written) && written.ValueKind == JsonValueKind.Array)
        {
            var own = written.EnumerateArray().Select(w => OperatorSources.Hash(w.GetProperty("source").GetString()!)).ToHashSet(StringComparer.Ordinal);
            foreach (var (reference, source) in sources.Where(s => own.Contains(s.Key)).OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                introduced(new OperatorIntroduction(reference, source, child!, attribute));
            }
        }

        return new LlmMutationResult<ArchitectureSpec>(child!, LlmSession.PromptHash(prompt), answer.GetProperty("summary").GetString()!.Trim(), attempts);
    }
}
