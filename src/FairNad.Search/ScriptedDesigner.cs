using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FairNad.Architecture;
using FairNad.Architecture.Transforms;
using FairNad.Knowledge;

namespace FairNad.Search;

/// <summary>
/// FairNad's built-in stand-in for an LLM (<see cref="FairNad.Llm.LlmSettings.ScriptedModel"/>): a rule-based designer
/// that speaks Ollama's HTTP API in-process, so LLM-driven mutation runs end to end (prompt, schema, streaming, repair
/// rounds, recorded exchanges, replay) on a machine with no model. It is not a language model and says so in every
/// answer: it reads the attribute and the parent from the mutation prompt (<see cref="LlmSpecMutator.Prompt"/>) and
/// applies one of the attribute's realisations from the attribute tree, in an order fixed by a hash of the question, so
/// the same question always gets the same answer. An attribute with no realisation that fits the parent gets the parent
/// back unchanged with a summary that says why; the mutation's checks reject that and the mutation is recorded as failed,
/// as it would be for a model that could not realise it.
/// When the prompt lets the LLM write operators (it states <see cref="LlmSpecMutator.OperatorContract"/>, i.e. the
/// experiment has llm.writeOperators) and no realisation fits, it writes one instead: an operator from
/// <see cref="ScriptedOperators.All"/>, chosen by the question's hash, that replaces the block's first spatial
/// operator (or, where the block has none it can replace, joins it as a residual branch), with
/// <c>"source": "operators[0]"</c>. A repair round after such an answer writes the next operator of the library.
/// A prompt without the operator contract is answered exactly as by version 1 of the rules, so recorded exchanges of
/// runs without operators (experiments/quickstart.llm) still describe what the designer answers.
/// </summary>
/// <remarks>
/// It answers only the mutation stage; any other question (knowledge extraction) gets an HTTP 400 whose error says so.
/// Token counts are estimates (UTF-8 bytes / 3, as <see cref="FairNad.Llm.LlmSession.EstimateTokens"/> makes them), since no
/// tokenizer is involved. Its digest is the SHA-256 of its version and the attribute tree it realises, so a changed tree
/// is a changed model to the transcript store.
/// </remarks>
public sealed class ScriptedDesigner : HttpMessageHandler
{
    /// <summary>Changes whenever the designer's rules change, so recorded answers of older rules are told apart.</summary>
    public const string Version = "fairnad-scripted-designer-2";

    private const string CreatedAt = "2026-01-01T00:00:00Z";
    private const string AttributeLine = "Attribute to realise: ";
    private readonly AttributeTree _tree;

    public ScriptedDesigner(AttributeTree tree)
    {
        _tree = tree;
        Digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Version + "\n" + tree.Write())));
    }

    /// <summary>The digest /api/tags reports for <see cref="FairNad.Llm.LlmSettings.ScriptedModel"/>.</summary>
    public string Digest { get; }

    /// <summary>The answer to one chat request: a JSON object {summary, architecture}, or null when the question is not a mutation prompt.</summary>
    public string? Answer(IReadOnlyList<(string Role, string Content)> messages)
    {
        var question = messages.FirstOrDefault(m => m.Role == "user").Content;
        if (question is null || !question.StartsWith(AttributeLine, StringComparison.Ordinal))
        {
            return null;
        }

        var (attribute, parent) = Read(question);
        if (attribute is null || parent is null)
        {
            return null;
        }

        // A repair round asks the same question again with the rejected answer and the problem: move on to the next realisation.
        var round = messages.Count(m => m.Role == "assistant");
        var order = Order(attribute.Realisations.Count, question);
        var tried = 0;
        foreach (var index in order)
        {
            var realisation = attribute.Realisations[index];
            TransformResult result;
            try
            {
                result = realisation.Apply(parent);
            }
            catch (Exception e) when (e is TransformNotApplicableException or InvalidOperationException or ArgumentException)
            {
                continue;
            }

            if (result.Spec.Id == parent.Id || tried++ < round)
            {
                continue;
            }

            return Reply($"Scripted designer (rule-based, not a language model): applied {realisation} to realise {attribute.Name}: {result.Summary}", result.Spec);
        }

        if (messages.Any(m => m.Role == "system" && m.Content.Contains(LlmSpecMutator.OperatorContract, StringComparison.Ordinal)))
        {
            return WriteOperator(attribute, parent, question, messages.LastOrDefault(m => m.Role == "assistant").Content);
        }

        var why = attribute.Realisations.Count == 0
            ? $"{attribute.Name} has no realisation in the attribute tree"
            : $"none of the {attribute.Realisations.Count} realisations of {attribute.Name} in the attribute tree{(round > 0 ? " that were not tried already" : string.Empty)} changes this parent";
        return Reply($"Scripted designer (rule-based, not a language model): {why}; the architecture is returned unchanged", parent);
    }

    /// <summary>Ops whose window makes them a block's main spatial operator, the place a written operator takes.</summary>
    private static readonly string[] SpatialOps = ["conv", "relu_conv_bn", "sep_conv", "inverted_residual"];

    /// <summary>
    /// The answer that writes an operator: the library's next operator after the one <paramref name="previous"/> wrote (a
    /// repair round), else the one the question's hash picks, put in place of the block's first spatial operator of the
    /// fixed library (same inputs, width ratio and stride), or as a residual branch on the block's output.
    /// </summary>
    private static string WriteOperator(AttributeNode attribute, ArchitectureSpec parent, string question, string? previous)
    {
        var library = ScriptedOperators.All;
        var index = PreviousOperator(previous) is { } written && library.ToList().FindIndex(o => o.Source == written) is var at and >= 0
            ? (at + 1) % library.Count
            : (int)(BitConverter.ToUInt32(SHA256.HashData(Encoding.UTF8.GetBytes(question)), 0) % (uint)library.Count);
        var op = library[index];
        var (child, where) = Place(parent, OperatorSources.Hash(op.Source));
        using var architecture = JsonDocument.Parse(SpecJson.Write(child));
        return JsonSerializer.Serialize(new
        {
            summary = $"Scripted designer (rule-based, not a language model): no realisation of {attribute.Name} in the attribute tree fits this parent, so it wrote {op.Name}, {op.Description}, {where}",
            architecture = architecture.RootElement,
            operators = new[] { new { source = op.Source } },
        });
    }

    /// <summary>The child with a custom node whose source is <c>operators[0]</c>, and where it went; <paramref name="reference"/> only checks shapes.</summary>
    private static (ArchitectureSpec Child, string Where) Place(ArchitectureSpec parent, string reference)
    {
        var nodes = parent.Block.Nodes;
        foreach (var (node, i) in nodes.Select((n, i) => (n, i)))
        {
            if (!SpatialOps.Contains(node.Op) || Parameter(node, "kernel") <= 1)
            {
                continue;
            }

            var custom = new NodeSpec(node.Id, OperatorSources.OperatorName, [.. node.Inputs])
                .With("out", Parameter(node, "out")).With("stride", (int)Parameter(node, "stride"));
            var replaced = nodes.ToList();
            replaced[i] = custom.With("source", reference);
            if (ArchitectureAnalyzer.Analyze(parent with { Block = parent.Block with { Nodes = replaced } }).IsValid)
            {
                replaced[i] = custom.With("source", LlmSpecMutator.AnswerOperatorPrefix + "0]");
                return (parent with { Block = parent.Block with { Nodes = replaced } }, $"in place of the block's {node.Op} node '{node.Id}'");
            }
        }

        var n = nodes.Count;
        var output = parent.Block.Output;
        var (branch, sum) = ($"written{n}", $"written_sum{n}");
        return (parent with
        {
            Block = new BlockSpec(
                [.. nodes, new NodeSpec(branch, OperatorSources.OperatorName, output).With("source", LlmSpecMutator.AnswerOperatorPrefix + "0]"), new NodeSpec(sum, "add", branch, output)], sum),
        }, $"as a residual branch on the block's output '{output}'");
    }

    /// <summary>A numeric parameter of <paramref name="node"/>, or its operator's default.</summary>
    private static double Parameter(NodeSpec node, string name) =>
        (node.Params.TryGetValue(name, out var value) ? value : Operators.Get(node.Op).Params.First(p => p.Name == name).Default).Number ?? 0;

    /// <summary>The first operator source of an earlier answer, if it wrote one.</summary>
    private static string? PreviousOperator(string? previous)
    {
        if (previous is null)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(previous);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("operators", out var list) && list.ValueKind == JsonValueKind.Array
                && list.GetArrayLength() > 0 && list[0].ValueKind == JsonValueKind.Object && list[0].TryGetProperty("source", out var source) && source.ValueKind == JsonValueKind.String
                ? source.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        Task.FromResult(Respond(request));

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken) => Respond(request);

    private HttpResponseMessage Respond(HttpRequestMessage request)
    {
        var path = request.RequestUri?.AbsolutePath ?? string.Empty;
        var details = new { family = "fairnad-scripted", parameter_size = "0", quantization_level = "none" };
        return path switch
        {
            "/api/tags" => Json(HttpStatusCode.OK, new { models = new[] { new { name = FairNad.Llm.LlmSettings.ScriptedModel + ":latest", model = FairNad.Llm.LlmSettings.ScriptedModel + ":latest", digest = Digest, size = 0L, modified_at = CreatedAt, details } } }),
            "/api/show" => Json(HttpStatusCode.OK, new { modelfile = string.Empty, parameters = string.Empty, template = string.Empty, details }),
            "/api/chat" => Chat(request),
            _ => Json(HttpStatusCode.NotFound, new { error = $"the scripted designer does not serve {path}" }),
        };
    }

    private HttpResponseMessage Chat(HttpRequestMessage request)
    {
        using var body = JsonDocument.Parse(request.Content!.ReadAsStringAsync().GetAwaiter().GetResult());
        var root = body.RootElement;
        var messages = root.GetProperty("messages").EnumerateArray()
            .Select(m => (m.GetProperty("role").GetString() ?? string.Empty, m.TryGetProperty("content", out var c) ? c.GetString() ?? string.Empty : string.Empty))
            .ToList();
        var answer = Answer(messages);
        if (answer is null)
        {
            return Json(HttpStatusCode.BadRequest, new { error = $"{FairNad.Llm.LlmSettings.ScriptedModel} is FairNad's rule-based stand-in for LLM-driven mutation; it answers only mutation prompts, not this question (use a real model through Ollama)" });
        }

        var model = FairNad.Llm.LlmSettings.ScriptedModel + ":latest";
        var promptTokens = (long)FairNad.Llm.LlmSession.EstimateTokens(messages.Select(m => new Microsoft.Extensions.AI.ChatMessage(new Microsoft.Extensions.AI.ChatRole(m.Item1), m.Item2)));
        var answerTokens = (long)Math.Ceiling(Encoding.UTF8.GetByteCount(answer) / FairNad.Llm.LlmSession.BytesPerToken);
        var streamed = !root.TryGetProperty("stream", out var stream) || stream.ValueKind != JsonValueKind.False;
        var done = new { model, created_at = CreatedAt, message = new { role = "assistant", content = streamed ? string.Empty : answer }, done = true, done_reason = "stop", prompt_eval_count = promptTokens, eval_count = answerTokens };
        if (!streamed)
        {
            return Json(HttpStatusCode.OK, done);
        }

        var lines = JsonSerializer.Serialize(new { model, created_at = CreatedAt, message = new { role = "assistant", content = answer }, done = false }) + "\n" + JsonSerializer.Serialize(done) + "\n";
        return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(lines, Encoding.UTF8, "application/x-ndjson") };
    }

    private static HttpResponseMessage Json(HttpStatusCode status, object value) =>
        new(status) { Content = new StringContent(JsonSerializer.Serialize(value) + "\n", Encoding.UTF8, "application/json") };

    private static string Reply(string summary, ArchitectureSpec spec)
    {
        using var architecture = JsonDocument.Parse(SpecJson.Write(spec));
        return JsonSerializer.Serialize(new { summary, architecture = architecture.RootElement });
    }

    /// <summary>The attribute (by the id in the prompt's first line) and the parent spec (the prompt's JSON block).</summary>
    private (AttributeNode? Attribute, ArchitectureSpec? Parent) Read(string question)
    {
        var firstLine = question[AttributeLine.Length..question.IndexOf('\n', StringComparison.Ordinal)];
        var open = firstLine.LastIndexOf('(');
        var id = open < 0 ? null : firstLine[(open + 1)..].Split(',')[0].Trim();
        var attribute = _tree.Attributes.Select(a => a.Attribute).FirstOrDefault(a => a.Id == id);
        const string Fence = "```json\n";
        var start = question.IndexOf(Fence, StringComparison.Ordinal);
        var end = start < 0 ? -1 : question.IndexOf("```", start + Fence.Length, StringComparison.Ordinal);
        if (end < 0)
        {
            return (attribute, null);
        }

        try
        {
            return (attribute, SpecJson.Read(question[(start + Fence.Length)..end], "prompt"));
        }
        catch (SpecFormatException)
        {
            return (attribute, null);
        }
    }

    /// <summary>The realisations' indices in an order drawn from the question's hash: different parents try different realisations first.</summary>
    private static List<int> Order(int count, string question)
    {
        var seed = BitConverter.ToInt32(SHA256.HashData(Encoding.UTF8.GetBytes(question)), 0);
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).OrderBy(_ => random.Next())];
    }
}
