using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using OllamaSharp;

namespace FairNad.Llm;

/// <summary>live: call the model and record; replay: recorded answers only; auto: replay when recorded, else live; off: no LLM.</summary>
public enum LlmMode
{
    Live,
    Replay,
    Auto,
    Off,
}

/// <summary>A stage needs the LLM but it is off; the message says which stage.</summary>
public sealed class LlmDisabledException(string message) : Exception(message);

/// <summary>Replay found no recorded answer; the message names the prompt hash and the transcript folder.</summary>
public sealed class LlmReplayMissException(string message) : Exception(message);

/// <summary>The server cannot be reached or lacks the model; the message says what to do.</summary>
public sealed class LlmUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The model's answers stayed malformed after every repair attempt; every problem is listed.</summary>
public sealed class LlmOutputException(string message) : Exception(message);

/// <summary>How to reach the model and what to do with recordings.</summary>
/// <param name="Model">Ollama model name, e.g. qwen2.5:7b-instruct.</param>
/// <param name="Server">Ollama's URL (OLLAMA_HOST, default http://localhost:11434).</param>
/// <param name="TranscriptDirectory">Where exchanges are recorded, content-addressed by the cache key.</param>
/// <param name="Seed">Sampling seed sent with every request.</param>
/// <param name="ContextLength">Context window (num_ctx) sent with every request.</param>
/// <param name="MaxAttempts">Answers per question before malformed output becomes a failure.</param>
/// <param name="TimeoutSeconds">How long one request may take in all before it counts as a (transient, retried) failure.</param>
/// <param name="StallTimeoutSeconds">How long a streamed answer may go without a new chunk (the first one included) before it counts as stalled (transient, retried).</param>
public sealed record LlmSettings(string Model, Uri Server, LlmMode Mode, string TranscriptDirectory, int Seed = 42, int ContextLength = 8192, int MaxAttempts = 3,
    double TimeoutSeconds = LlmSettings.DefaultTimeoutSeconds, double StallTimeoutSeconds = LlmSettings.DefaultStallTimeoutSeconds)
{
    public const string DefaultModel = "qwen2.5:7b-instruct";

    /// <summary>
    /// Thirty minutes in all: a 7B model on two CPU cores writes a full-spec answer (~1,500 tokens) at a few tokens a
    /// second after evaluating a ~4k-token prompt, so one long answer can take ten minutes or more. Answers are streamed, so
    /// a stalled server is caught by <see cref="DefaultStallTimeoutSeconds"/> long before this.
    /// </summary>
    public const double DefaultTimeoutSeconds = 1800;

    /// <summary>Five minutes without a chunk: enough for a model load plus the prompt evaluation before the first token on a CPU.</summary>
    public const double DefaultStallTimeoutSeconds = 300;

    /// <summary>The environment variable that sets the request timeout when neither --llm-timeout nor the experiment does.</summary>
    public const string TimeoutVariable = "FAIRNAD_LLM_TIMEOUT";

    /// <summary>The request timeout: <paramref name="given"/> (an option or experiment field), else FAIRNAD_LLM_TIMEOUT, else <see cref="DefaultTimeoutSeconds"/>.</summary>
    /// <exception cref="ArgumentException">a value that is not a positive number of seconds; the message names where it came from.</exception>
    public static double ResolveTimeout(double? given, string source = "--llm-timeout")
    {
        if (given is { } seconds)
        {
            return CheckTimeout(seconds, source);
        }

        var text = Environment.GetEnvironmentVariable(TimeoutVariable);
        if (string.IsNullOrWhiteSpace(text))
        {
            return DefaultTimeoutSeconds;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? CheckTimeout(value, TimeoutVariable)
            : throw new ArgumentException($"{TimeoutVariable} must be a number of seconds, not '{text}'");
    }

    /// <summary>The environment variable that sets the stall timeout when neither --llm-stall-timeout nor the experiment does.</summary>
    public const string StallTimeoutVariable = "FAIRNAD_LLM_STALL_TIMEOUT";

    /// <summary>
    /// The stall timeout: <paramref name="given"/> (an option or experiment field), else FAIRNAD_LLM_STALL_TIMEOUT, else
    /// <see cref="DefaultStallTimeoutSeconds"/>. A value given (or set in the environment) longer than the request timeout
    /// <paramref name="timeoutSeconds"/> is an error, since it could never fire; the default is cut to the request timeout,
    /// so a short --llm-timeout alone stays valid.
    /// </summary>
    /// <param name="timeoutSource">Where the request timeout came from when it was given (--llm-timeout, llm.timeoutSeconds); null: the environment or the default.</param>
    /// <exception cref="ArgumentException">a value that is not a positive number of seconds, or one longer than the request timeout; the message names both.</exception>
    public static double ResolveStallTimeout(double? given, double timeoutSeconds, string source = "--llm-stall-timeout", string? timeoutSource = null)
    {
        double stall;
        if (given is { } seconds)
        {
            stall = CheckTimeout(seconds, source);
        }
        else
        {
            var text = Environment.GetEnvironmentVariable(StallTimeoutVariable);
            if (string.IsNullOrWhiteSpace(text))
            {
                return Math.Min(DefaultStallTimeoutSeconds, timeoutSeconds);
            }

            source = StallTimeoutVariable;
            stall = double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
                ? CheckTimeout(value, StallTimeoutVariable)
                : throw new ArgumentException($"{StallTimeoutVariable} must be a number of seconds, not '{text}'");
        }

        if (stall > timeoutSeconds)
        {
            var from = timeoutSource ?? (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(TimeoutVariable)) ? null : TimeoutVariable);
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"{source} ({stall:G} s) must not exceed the request timeout ({timeoutSeconds:G} s, {(from is null ? "the default" : "from " + from)}): the stall timeout bounds the wait for each chunk of an answer, the request timeout the whole answer"));
        }

        return stall;
    }

    /// <summary>The longest request timeout accepted: a day.</summary>
    public const double MaxTimeoutSeconds = 86_400;

    /// <summary><paramref name="seconds"/> if it is above 0 and at most a day.</summary>
    /// <exception cref="ArgumentException">otherwise; the message names <paramref name="source"/>.</exception>
    public static double CheckTimeout(double seconds, string source) =>
        double.IsFinite(seconds) && seconds > 0 && seconds <= MaxTimeoutSeconds
            ? seconds
            : throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{source} must be a number of seconds above 0 and at most 86400 (a day), not {seconds:G}"));

    /// <summary>Parses <c>ollama:&lt;model&gt;</c>, <c>live</c>, <c>replay</c>, <c>auto</c> or <c>off</c> (the last four with the default model).</summary>
    public static LlmSettings Parse(string text, string transcriptDirectory, string? server = null)
    {
        var (mode, model) = ParseChoice(text);
        return new(model ?? DefaultModel, ResolveServer(server), mode, transcriptDirectory);
    }

    /// <summary>The mode and, for <c>ollama:&lt;model&gt;</c>, the model of an <c>--llm</c> value.</summary>
    /// <exception cref="ArgumentException">none of the accepted forms.</exception>
    public static (LlmMode Mode, string? Model) ParseChoice(string text) => text switch
    {
        "live" => (LlmMode.Live, null),
        "replay" => (LlmMode.Replay, null),
        "auto" => (LlmMode.Auto, null),
        "off" => (LlmMode.Off, null),
        _ when text.StartsWith("ollama:", StringComparison.Ordinal) && text.Length > 7 => (LlmMode.Auto, text[7..]),
        _ => throw new ArgumentException($"--llm must be live, replay, auto, off or ollama:<model>, not '{text}'"),
    };

    /// <summary>The Ollama server: <paramref name="server"/> (--ollama-host), else OLLAMA_HOST, else http://localhost:11434; each read by <see cref="ParseHost"/>.</summary>
    /// <exception cref="ArgumentException">a malformed address; the message names --ollama-host or OLLAMA_HOST.</exception>
    public static Uri ResolveServer(string? server) => server is not null
        ? ParseHost(server, "--ollama-host")
        : ParseHost(Environment.GetEnvironmentVariable("OLLAMA_HOST") ?? string.Empty, "OLLAMA_HOST");

    /// <summary>
    /// An Ollama address read as Ollama's own client reads OLLAMA_HOST (envconfig.Host): quotes and spaces trimmed; the
    /// scheme optional (http); without a scheme the port defaults to 11434, with http:// to 80 and with https:// to 443;
    /// a bare IP address or host name gets the default port, and a path is kept (a reverse proxy). Unlike Ollama, which
    /// falls back to defaults with a warning, a malformed value is an error; and an address to listen on rather than
    /// to connect to (0.0.0.0, ::, or no host at all as in ":11434") means this machine. Empty: http://localhost:11434.
    /// </summary>
    /// <exception cref="ArgumentException">a malformed value; the message names <paramref name="source"/> and the accepted forms.</exception>
    public static Uri ParseHost(string value, string source)
    {
        var text = value.Trim().Trim('"', '\'').Trim();
        ArgumentException Bad(string reason) =>
            new($"{source} '{value}' is not an Ollama address: {reason}; write [http://|https://]host[:port][/path], e.g. 127.0.0.1:11434 or https://ollama.example.org");
        if (text.Length == 0)
        {
            return new Uri("http://localhost:11434/");
        }

        var defaultPort = 11434;
        var scheme = "http";
        var rest = text;
        var cut = text.IndexOf("://", StringComparison.Ordinal);
        if (cut >= 0)
        {
            scheme = text[..cut].ToLowerInvariant();
            rest = text[(cut + 3)..];
            defaultPort = scheme switch
            {
                "http" => 80,
                "https" => 443,
                _ => throw Bad($"the scheme must be http or https, not '{text[..cut]}'"),
            };
        }
        else if (text == "ollama.com")
        {
            (scheme, rest) = ("https", "ollama.com:443");
        }

        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var hostPort = slash < 0 ? rest : rest[..slash];
        var path = slash < 0 ? string.Empty : rest[(slash + 1)..];
        if (!SplitHostPort(hostPort, out var host, out var portText))
        {
            // No port: a bare IP address (IPv6 with or without brackets) or host name, on the default port.
            var bare = hostPort.Trim('[', ']');
            (host, portText) = (bare.Contains(':', StringComparison.Ordinal) && System.Net.IPAddress.TryParse(bare, out _) ? bare : hostPort, null);
        }

        var port = defaultPort;
        if (portText is not null && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            throw Bad($"the port '{portText}' is not a number from 1 to 65535");
        }

        host = host switch
        {
            "" or "0.0.0.0" => host.Length == 0 ? "localhost" : "127.0.0.1",
            "::" => "::1",
            _ => host,
        };
        if (Uri.CheckHostName(host) == UriHostNameType.Unknown)
        {
            throw Bad($"'{host}' is not a host name or IP address");
        }

        try
        {
            var uri = new UriBuilder(scheme, host, port, "/" + path.TrimEnd('/') + (path.Trim('/').Length > 0 ? "/" : string.Empty)).Uri;
            return uri;
        }
        catch (UriFormatException e)
        {
            throw Bad(e.Message);
        }
    }

    /// <summary>Go's net.SplitHostPort: "host:port" or "[v6]:port"; false when there is no port or too many colons.</summary>
    private static bool SplitHostPort(string hostPort, out string host, out string port)
    {
        (host, port) = (string.Empty, string.Empty);
        if (hostPort.StartsWith('['))
        {
            var end = hostPort.IndexOf(']', StringComparison.Ordinal);
            if (end < 0 || end + 1 >= hostPort.Length || hostPort[end + 1] != ':')
            {
                return false;
            }

            (host, port) = (hostPort[1..end], hostPort[(end + 2)..]);
            return true;
        }

        var colon = hostPort.LastIndexOf(':');
        if (colon < 0 || hostPort[..colon].Contains(':', StringComparison.Ordinal))
        {
            return false;
        }

        (host, port) = (hostPort[..colon], hostPort[(colon + 1)..]);
        return true;
    }
}

/// <summary>The model as the server describes it; the digest pins exactly which weights answered.</summary>
public sealed record ModelInfo(string Name, string Digest, string? Family, string? ParameterSize, string? Quantization);

/// <summary>One stage's LLM use.</summary>
public sealed record LedgerEntry(string Stage, int Calls, int Live, long PromptTokens, long CompletionTokens, double Seconds);

/// <summary>Token counts and durations per stage; cached answers cost no tokens.</summary>
public sealed class CostLedger
{
    private readonly Dictionary<string, LedgerEntry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public string Stage { get; set; } = "default";

    public IReadOnlyList<LedgerEntry> Entries
    {
        get
        {
            lock (_gate)
            {
                return _entries.Values.OrderBy(e => e.Stage, StringComparer.Ordinal).ToList();
            }
        }
    }

    internal void Record(bool live, long prompt, long completion, double seconds)
    {
        lock (_gate)
        {
            var e = _entries.GetValueOrDefault(Stage) ?? new LedgerEntry(Stage, 0, 0, 0, 0, 0);
            _entries[Stage] = e with
            {
                Calls = e.Calls + 1,
                Live = e.Live + (live ? 1 : 0),
                PromptTokens = e.PromptTokens + prompt,
                CompletionTokens = e.CompletionTokens + completion,
                Seconds = e.Seconds + seconds,
            };
        }
    }

    public string Summary() => string.Join("\n", Entries.Select(e => string.Create(CultureInfo.InvariantCulture,
        $"{e.Stage}: {e.Calls} call(s), {e.Live} answered live ({e.Calls - e.Live} replayed), {e.PromptTokens:N0} prompt + {e.CompletionTokens:N0} completion tokens, {e.Seconds:F1} s")));
}

/// <summary>
/// The product's one LLM pipeline: OllamaSharp's <see cref="IChatClient"/> (or, in replay mode, nothing) behind
/// Microsoft.Extensions.AI's <see cref="DistributedCachingChatClient"/> over a folder of transcripts, with deterministic
/// options (temperature 0, fixed seed, top_k 1, fixed context), one request at a time, and the model digest in every
/// cache key. Answers are checked against a JSON schema and a validator, and malformed ones are sent back for repair.
/// </summary>
public sealed class LlmSession : IDisposable
{
    public const string CacheVersion = "fairnad-llm-1";
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private readonly IChatClient _client;
    private readonly IDisposable? _inner;
    private MeasuringChatClient? _measuring;

    private LlmSession(LlmSettings settings, ModelInfo model, IChatClient client, IDisposable? inner)
    {
        Settings = settings;
        Model = model;
        _client = client;
        _inner = inner;
    }

    public LlmSettings Settings { get; }

    public ModelInfo Model { get; }

    public CostLedger Ledger { get; } = new();

    /// <summary>Opens the pipeline. Live and auto ask the server for the model's digest; replay reads it from the transcripts.</summary>
    /// <param name="retry">How transient server failures are retried (default <see cref="LlmRetryPolicy.Default"/>).</param>
    public static async Task<LlmSession> OpenAsync(LlmSettings settings, string stage, LlmRetryPolicy? retry = null, CancellationToken cancel = default)
    {
        if (settings.Mode == LlmMode.Off)
        {
            throw new LlmDisabledException($"{stage} needs an LLM, but the LLM is off (--llm off); use --llm replay with recorded transcripts, or --llm live with a running Ollama");
        }

        var modelFile = Path.Combine(settings.TranscriptDirectory, "model.json");
        ModelInfo model;
        IChatClient inner;
        IDisposable? owned = null;
        if (settings.Mode == LlmMode.Replay)
        {
            if (!File.Exists(modelFile))
            {
                throw new LlmReplayMissException($"{stage}: no recorded transcripts in {settings.TranscriptDirectory} (model.json is missing); record them once with --llm live against a running Ollama");
            }

            model = JsonSerializer.Deserialize<ModelInfo>(File.ReadAllText(modelFile)) ?? throw new LlmReplayMissException($"{modelFile} is empty");
            inner = new ReplayOnlyChatClient(settings.TranscriptDirectory, stage);
        }
        else
        {
            Directory.CreateDirectory(settings.TranscriptDirectory);
            // No HttpClient timeout of its own: the handler applies the user's, per attempt, and tells it apart from cancellation.
            var handler = new OllamaRequestHandler(settings, retry ?? LlmRetryPolicy.Default, new SocketsHttpHandler()) { FailFastWhenRefused = true };
            var http = new HttpClient(handler) { BaseAddress = settings.Server, Timeout = Timeout.InfiniteTimeSpan };
            var client = new OllamaApiClient(http, settings.Model);
            owned = new Owned(client, http);
            model = await DescribeAsync(client, settings, cancel).ConfigureAwait(false);
            handler.FailFastWhenRefused = false;
            File.WriteAllText(modelFile, JsonSerializer.Serialize(model, new JsonSerializerOptions { WriteIndented = true }) + "\n");
            inner = client;
        }

        var measuring = new MeasuringChatClient(inner);
        var cache = new FileDistributedCache(settings.TranscriptDirectory, read: settings.Mode != LlmMode.Live, write: settings.Mode != LlmMode.Replay);
        var cached = new ChatClientBuilder(measuring).UseDistributedCache(cache, c => c.CacheKeyAdditionalValues = [CacheVersion, model.Digest]).Build();
        return new LlmSession(settings, model, cached, owned) { _measuring = measuring };
    }

    /// <summary>The options every request carries.</summary>
    public ChatOptions Options(JsonElement? schema) => new()
    {
        ModelId = Settings.Model,
        Temperature = 0,
        TopK = 1,
        Seed = Settings.Seed,
        ResponseFormat = schema is { } s ? ChatResponseFormat.ForJsonSchema(s, "answer") : null,
        AdditionalProperties = new AdditionalPropertiesDictionary { ["num_ctx"] = Settings.ContextLength },
    };

    /// <summary>
    /// Asks for JSON matching <paramref name="schema"/>; if the answer does not parse or <paramref name="validate"/>
    /// returns a problem, the answer and the problem go back to the model, up to <see cref="LlmSettings.MaxAttempts"/>.
    /// </summary>
    public async Task<JsonElement> AskJsonAsync(string stage, IReadOnlyList<ChatMessage> prompt, JsonElement schema, Func<JsonElement, string?> validate, CancellationToken cancel = default)
    {
        var messages = prompt.ToList();
        var problems = new List<string>();
        await _oneAtATime.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            Ledger.Stage = stage;
            for (var attempt = 1; attempt <= Settings.MaxAttempts; attempt++)
            {
                _measuring!.Last = null;
                var response = await _client.GetResponseAsync(messages, Options(schema), cancel).ConfigureAwait(false);
                if (_measuring.Last is { } live)
                {
                    Ledger.Record(live: true, live.Prompt, live.Completion, live.Seconds);
                }
                else
                {
                    Ledger.Record(live: false, 0, 0, 0);
                }

                var text = response.Text;
                string? problem;
                try
                {
                    using var document = JsonDocument.Parse(text);
                    problem = validate(document.RootElement);
                    if (problem is null)
                    {
                        return document.RootElement.Clone();
                    }
                }
                catch (JsonException e)
                {
                    problem = $"the answer is not valid JSON ({e.Message})";
                }

                problems.Add($"attempt {attempt}: {problem}");
                messages.Add(new ChatMessage(ChatRole.Assistant, text));
                messages.Add(new ChatMessage(ChatRole.User, $"That answer is invalid: {problem}. Reply again with only JSON that matches the schema."));
            }
        }
        finally
        {
            _oneAtATime.Release();
        }

        throw new LlmOutputException($"{stage}: no valid answer after {Settings.MaxAttempts} attempts: {string.Join("; ", problems)}");
    }

    public void Dispose()
    {
        _client.Dispose();
        _inner?.Dispose();
        _oneAtATime.Dispose();
    }

    /// <summary>Hash of a prompt as replay reports it.</summary>
    public static string PromptHash(IEnumerable<ChatMessage> messages) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", messages.Select(m => $"{m.Role}: {m.Text}")))))[..16];

    private static async Task<ModelInfo> DescribeAsync(OllamaApiClient client, LlmSettings settings, CancellationToken cancel)
    {
        try
        {
            var models = await client.ListLocalModelsAsync(cancel).ConfigureAwait(false);
            var found = models.FirstOrDefault(m => m.Name == settings.Model || m.Name == settings.Model + ":latest")
                ?? throw new LlmUnavailableException($"model {settings.Model} is not available on {settings.Server}; run `ollama pull {settings.Model}` (local models: {string.Join(", ", models.Select(m => m.Name))})");
            var show = await client.ShowModelAsync(settings.Model, cancel).ConfigureAwait(false);
            return new ModelInfo(found.Name, found.Digest ?? string.Empty, show.Details?.Family, show.Details?.ParameterSize, show.Details?.QuantizationLevel);
        }
        catch (HttpRequestException e)
        {
            throw new LlmUnavailableException($"cannot reach Ollama at {settings.Server} ({e.Message}); start it (`ollama serve`, `ollama pull {settings.Model}`) or use --llm replay with recorded transcripts", e);
        }
    }

    private sealed class Owned(IDisposable client, HttpClient http) : IDisposable
    {
        public void Dispose()
        {
            client.Dispose();
            http.Dispose();
        }
    }

    /// <summary>Sits between the cache and the model: whatever reaches it is a live call, measured here.</summary>
    private sealed class MeasuringChatClient(IChatClient inner) : DelegatingChatClient(inner)
    {
        public (long Prompt, long Completion, double Seconds)? Last { get; set; }

        public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            var watch = Stopwatch.StartNew();
            var response = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
            Last = (response.Usage?.InputTokenCount ?? 0, response.Usage?.OutputTokenCount ?? 0, watch.Elapsed.TotalSeconds);
            return response;
        }
    }

    /// <summary>Stands in for the model in replay mode: every request that reaches it was not recorded.</summary>
    private sealed class ReplayOnlyChatClient(string directory, string stage) : IChatClient
    {
        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new LlmReplayMissException($"{stage}: no recorded answer for prompt {PromptHash(messages)} in {directory}; run with --llm live or auto to record it");

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new LlmReplayMissException($"{stage}: no recorded answer for prompt {PromptHash(messages)} in {directory}");

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}

/// <summary>
/// An <see cref="IDistributedCache"/> over a folder: one file per key (the caching client's content hash), written
/// atomically, so recorded exchanges are plain files that can be committed, diffed and replayed offline.
/// </summary>
public sealed class FileDistributedCache(string directory, bool read = true, bool write = true) : IDistributedCache
{
    public int Hits { get; private set; }

    public byte[]? Get(string key)
    {
        var path = PathFor(key);
        if (!read || !File.Exists(path))
        {
            return null;
        }

        Hits++;
        return File.ReadAllBytes(path);
    }

    public Task<byte[]?> GetAsync(string key, CancellationToken token = default) => Task.FromResult(Get(key));

    public void Set(string key, byte[] value, DistributedCacheEntryOptions options)
    {
        if (!write)
        {
            return;
        }

        Directory.CreateDirectory(directory);
        var path = PathFor(key);
        File.WriteAllBytes(path + ".tmp", value);
        File.Move(path + ".tmp", path, overwrite: true);
    }

    public Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default)
    {
        Set(key, value, options);
        return Task.CompletedTask;
    }

    public void Refresh(string key)
    {
    }

    public Task RefreshAsync(string key, CancellationToken token = default) => Task.CompletedTask;

    public void Remove(string key)
    {
        if (write)
        {
            File.Delete(PathFor(key));
        }
    }

    public Task RemoveAsync(string key, CancellationToken token = default)
    {
        Remove(key);
        return Task.CompletedTask;
    }

    private string PathFor(string key)
    {
        var safe = new string(key.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').ToArray());
        return Path.Combine(directory, $"exchange-{safe}.json");
    }
}
