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
public sealed class LlmSpecMutator(LlmSession session, ArchitectureSpace space, Func<ArchitectureSpec, string?>? check = null) : ILlmMutator<ArchitectureSpec>
{
    public const string Stage = "mutate";

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

    public static IReadOnlyList<ChatMessage> Prompt(LlmMutationRequest request)
    {
        var operators = new StringBuilder();
        foreach (var op in Operators.All.OrderBy(o => o.Name, StringComparer.Ordinal))
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
            $"- \"head\": {{preActivation, dropout}}; preActivation (and the stem's activation) is \"{Operators.NoActivation}\" or an activation.\n" +
            "Channel parameters such as \"out\" are ratios of the stage width (out 1.0 = the stage width), so one block design fits every stage. " +
            $"Activations: {activations}. Operators (\"op\") you may use, with their parameters and defaults:\n" + operators +
            "Change the given architecture so that it realises the requested design attribute, keep everything else unless the attribute needs it, " +
            "keep the top-level \"input\" unchanged, and stay within the parameter budget. Reply with JSON only: {\"summary\": one sentence saying what you changed, " +
            "\"architecture\": the complete modified architecture}.";
        var user = new StringBuilder();
        user.Append(CultureInfo.InvariantCulture, $"Attribute to realise: {request.Attribute.Name} ({request.Attribute.Id}, category {request.Category.Name}, aims at {request.Attribute.Effect})\n");
        user.Append(CultureInfo.InvariantCulture, $"What it means: {request.Attribute.Description}\n");
        user.Append(CultureInfo.InvariantCulture, $"Parameter budget: {request.Space.Budget:N0}; the parent has {analysis.Parameters:N0} parameters and {analysis.Macs:N0} MACs.\n");
        user.Append("Results of earlier tries of this attribute and its category:\n").Append(request.Feedback);
        user.Append("Parent architecture:\n```json\n").Append(SpecJson.Write(parent)).Append("```\n");
        user.Append("Its generated TorchSharp code (for reference):\n```csharp\n").Append(FairNad.Architecture.Models.TorchSharpCodeWriter.Write(parent)).Append("```\n");
        return [new ChatMessage(ChatRole.System, system), new ChatMessage(ChatRole.User, user.ToString())];
    }

    /// <summary>The child an answer describes, or the problem to send back for repair.</summary>
    public static (ArchitectureSpec? Child, string? Problem) Check(JsonElement answer, LlmMutationRequest request, Func<ArchitectureSpec, string?>? check = null)
    {
        if (answer.ValueKind != JsonValueKind.Object || !answer.TryGetProperty("architecture", out var architecture) || architecture.ValueKind != JsonValueKind.Object)
        {
            return (null, "the answer must be an object with an 'architecture' object");
        }

        if (!answer.TryGetProperty("summary", out var summary) || summary.ValueKind != JsonValueKind.String || summary.GetString()!.Trim().Length == 0)
        {
            return (null, "'summary' must be a non-empty string");
        }

        ArchitectureSpec spec;
        try
        {
            spec = SpecJson.Read(architecture.GetRawText(), "architecture");
        }
        catch (SpecFormatException e)
        {
            return (null, e.Message);
        }

        if (spec.Input != request.Parent.Input)
        {
            return (null, $"the input must stay {JsonSerializer.Serialize(request.Parent.Input)}");
        }

        var analysis = ArchitectureAnalyzer.Analyze(spec);
        if (!analysis.IsValid)
        {
            return (null, "the architecture is invalid: " + string.Join("; ", analysis.Errors.Take(6)));
        }

        ArchitectureSpec fitted;
        try
        {
            fitted = request.Space.FitBudget(spec);
        }
        catch (InvalidOperationException e)
        {
            return (null, $"it cannot be fitted to the budget of {request.Space.Budget:N0} parameters ({e.Message})");
        }

        if (fitted.Id == request.Parent.Id)
        {
            return (null, "the architecture is unchanged; realise the attribute");
        }

        return check?.Invoke(fitted) is { } problem ? (null, problem) : (fitted, null);
    }

    public async Task<LlmMutationResult<ArchitectureSpec>> MutateAsync(ArchitectureSpec parent, AttributeNode attribute, CategoryNode category, string feedback, CancellationToken cancel = default)
    {
        var request = new LlmMutationRequest(parent, attribute, category, feedback, space);
        var prompt = Prompt(request);
        var attempts = 0;
        ArchitectureSpec? child = null;

        // The answer is a whole spec, about as long as the parent's, plus a sentence.
        var answerTokens = (int)Math.Ceiling(Encoding.UTF8.GetByteCount(SpecJson.Write(parent)) / LlmSession.BytesPerToken) + 64;
        JsonElement answer;
        try
        {
            answer = await session.AskJsonAsync(Stage, prompt, Schema, a =>
            {
                attempts++;
                (child, var problem) = Check(a, request, check);
                return problem;
            }, cancel, answerTokens).ConfigureAwait(false);
        }
        catch (LlmOutputException e)
        {
            throw new LlmMutationException($"attribute {request.Attribute.Id} on {request.Parent.Id[..12]}: {e.Message}", e);
        }
        catch (LlmUnavailableException e)
        {
            throw new LlmMutationException($"attribute {request.Attribute.Id} on {request.Parent.Id[..12]}: the LLM server failed: {e.Message}", e) { ServerFailure = true };
        }

        return new LlmMutationResult<ArchitectureSpec>(child!, LlmSession.PromptHash(prompt), answer.GetProperty("summary").GetString()!.Trim(), attempts);
    }
}
