using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace FairNad.Llm;

/// <summary>The model as the server describes it; the digest pins exactly which weights (and template) answered.</summary>
public sealed record ModelInfo(string Name, string Digest, string? Family, string? ParameterSize, string? Quantization)
{
    /// <summary>"name (digest)", as messages name a model.</summary>
    public override string ToString() => $"{Name} ({Digest})";

    /// <summary>Whether <paramref name="requested"/> names this model (Ollama lists "m" as "m:latest").</summary>
    public bool Answers(string requested) => Name == requested || Name == requested + ":latest" || requested == Name + ":latest";
}

/// <summary>
/// The models that answered in a transcript folder: <see cref="Current"/>, and the models it replaced, oldest first, when a
/// change was allowed (<see cref="LlmSettings.AllowModelChange"/>). Answers recorded with an earlier model are still
/// looked up, oldest first, so a folder whose model changed replays exactly as it was recorded.
/// </summary>
public sealed record ModelHistory(ModelInfo Current, IReadOnlyList<ModelInfo> Earlier)
{
    /// <summary>Every digest that answered, oldest first.</summary>
    public IEnumerable<string> Digests => Earlier.Select(m => m.Digest).Append(Current.Digest).Distinct(StringComparer.Ordinal);

    /// <summary>This history with <paramref name="next"/> answering from now on.</summary>
    public ModelHistory ChangedTo(ModelInfo next) => new(next, [.. Earlier, Current]);
}

/// <summary>A question as it is recorded: the messages and the options that shape the answer.</summary>
/// <param name="Format">The JSON schema the answer must match (Ollama's <c>format</c>), or null.</param>
public sealed record ExchangeRequest(IReadOnlyList<ChatMessage> Messages, int Seed, int ContextLength, JsonElement? Format);

/// <summary>A recorded answer, or a recorded failure of the server (<see cref="Error"/>).</summary>
public sealed record RecordedExchange(string Key, string? Answer, long PromptTokens, long CompletionTokens, string? Error);

/// <summary>
/// A folder of recorded exchanges with the LLM, one JSON file per question, named by a key: the SHA-256 of the
/// question's canonical form (format version, model digest, messages, sampling options, answer schema). Each file holds
/// the question itself (messages and options) beside the answer, so a transcript can be read and audited, not only
/// replayed. A question the server failed to answer is recorded only when a search records that failure as an outcome
/// (<see cref="LlmSession.RecordFailure"/>), so a run with an outage replays offline to the same result.
/// </summary>
public sealed class TranscriptStore(string directory)
{
    /// <summary>Part of every key: a change of what keys cover must not replay answers to other questions.</summary>
    public const string FormatVersion = "fairnad-llm-2";

    public const string ModelFile = "model.json";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public string Directory { get; } = directory;

    public string ModelPath => Path.Combine(Directory, ModelFile);

    /// <summary>The key of <paramref name="request"/> asked of the model with <paramref name="digest"/>.</summary>
    public static string Key(string digest, ExchangeRequest request)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("version", FormatVersion);
            w.WriteString("digest", digest);
            WriteRequest(w, request);
            w.WriteEndObject();
        }

        return Convert.ToHexStringLower(SHA256.HashData(stream.ToArray()));
    }

    /// <summary>The folder's models, or null when nothing was recorded.</summary>
    /// <exception cref="LlmReplayMissException">model.json is unreadable or from an older transcript format; the message names the file.</exception>
    public ModelHistory? ReadModels()
    {
        if (!File.Exists(ModelPath))
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(ModelPath));
            var root = document.RootElement;
            if (!root.TryGetProperty("current", out var current))
            {
                throw new LlmReplayMissException($"{ModelPath} was written by an earlier FairNad (transcript format fairnad-llm-1, which did not record the questions); its exchanges cannot be replayed: record them again with --llm live");
            }

            return new ModelHistory(Model(current), root.TryGetProperty("earlier", out var earlier) ? [.. earlier.EnumerateArray().Select(Model)] : []);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            throw new LlmReplayMissException($"{ModelPath} is not a transcript folder's model record ({e.Message})");
        }

        static ModelInfo Model(JsonElement e) => new(
            e.GetProperty("name").GetString()!,
            e.GetProperty("digest").GetString()!,
            e.TryGetProperty("family", out var f) ? f.GetString() : null,
            e.TryGetProperty("parameterSize", out var p) ? p.GetString() : null,
            e.TryGetProperty("quantization", out var q) ? q.GetString() : null);
    }

    public void WriteModels(ModelHistory models)
    {
        System.IO.Directory.CreateDirectory(Directory);
        Write(ModelPath, w =>
        {
            w.WriteStartObject();
            w.WritePropertyName("current");
            WriteModel(w, models.Current);
            w.WriteStartArray("earlier");
            foreach (var m in models.Earlier)
            {
                WriteModel(w, m);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });

        static void WriteModel(Utf8JsonWriter w, ModelInfo m)
        {
            w.WriteStartObject();
            w.WriteString("name", m.Name);
            w.WriteString("digest", m.Digest);
            w.WriteString("family", m.Family);
            w.WriteString("parameterSize", m.ParameterSize);
            w.WriteString("quantization", m.Quantization);
            w.WriteEndObject();
        }
    }

    /// <summary>The first of <paramref name="keys"/> that has a recorded answer or failure, in the order given.</summary>
    public RecordedExchange? Find(IEnumerable<string> keys)
    {
        foreach (var key in keys)
        {
            var path = PathFor(key);
            if (!File.Exists(path))
            {
                continue;
            }

            try
            {
                using var document = JsonDocument.Parse(File.ReadAllText(path));
                var root = document.RootElement;
                return root.TryGetProperty("error", out var error)
                    ? new RecordedExchange(key, null, 0, 0, error.GetString())
                    : new RecordedExchange(key, root.GetProperty("answer").GetString(), root.GetProperty("promptTokens").GetInt64(), root.GetProperty("completionTokens").GetInt64(), null);
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
            {
                throw new LlmReplayMissException($"{path} is not a recorded exchange ({e.Message}); delete it to ask the question again");
            }
        }

        return null;
    }

    /// <summary>Records an answer (or, with <paramref name="error"/>, a failure) of <paramref name="model"/> to <paramref name="request"/>.</summary>
    public void Write(string key, string stage, ModelInfo model, ExchangeRequest request, string? answer, long promptTokens, long completionTokens, string? error = null)
    {
        System.IO.Directory.CreateDirectory(Directory);
        Write(PathFor(key), w =>
        {
            w.WriteStartObject();
            w.WriteString("version", FormatVersion);
            w.WriteString("key", key);
            w.WriteString("stage", stage);
            w.WriteString("model", model.Name);
            w.WriteString("digest", model.Digest);
            w.WriteStartObject("request");
            WriteRequest(w, request);
            w.WriteEndObject();
            if (error is null)
            {
                w.WriteString("answer", answer);
                w.WriteNumber("promptTokens", promptTokens);
                w.WriteNumber("completionTokens", completionTokens);
            }
            else
            {
                w.WriteString("error", error);
            }

            w.WriteEndObject();
        });
    }

    /// <summary>The recorded exchange files (answers and failures).</summary>
    public IEnumerable<string> Files => System.IO.Directory.Exists(Directory) ? System.IO.Directory.EnumerateFiles(Directory, "exchange-*.json") : [];

    private string PathFor(string key) => Path.Combine(Directory, $"exchange-{key}.json");

    private static void WriteRequest(Utf8JsonWriter w, ExchangeRequest request)
    {
        w.WriteStartArray("messages");
        foreach (var m in request.Messages)
        {
            w.WriteStartObject();
            w.WriteString("role", m.Role.Value);
            w.WriteString("text", m.Text);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartObject("options");
        w.WriteNumber("temperature", 0);
        w.WriteNumber("top_k", 1);
        w.WriteNumber("seed", request.Seed);
        w.WriteNumber("num_ctx", request.ContextLength);
        w.WriteEndObject();
        w.WritePropertyName("format");
        if (request.Format is { } format)
        {
            format.WriteTo(w);
        }
        else
        {
            w.WriteNullValue();
        }
    }

    /// <summary>Written beside the target and renamed, so a reader (or a crash) never sees half a file.</summary>
    private static void Write(string path, Action<Utf8JsonWriter> write)
    {
        using (var stream = File.Create(path + ".tmp"))
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = Indented.Encoder }))
        {
            write(w);
        }

        File.AppendAllText(path + ".tmp", "\n");
        File.Move(path + ".tmp", path, overwrite: true);
    }
}
