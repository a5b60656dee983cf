using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
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
/// <param name="AllowModelChange">
/// Accept a server whose model (name or digest) differs from the one the transcripts were recorded with: the change is
/// recorded in model.json (and a search's manifest), and recorded answers of the earlier model are still replayed.
/// </param>
/// <param name="Transport">
/// What carries the HTTP requests: a socket to <see cref="Server"/> (null), or an in-process handler that speaks Ollama's
/// API (the scripted designer, <see cref="ScriptedModel"/>). Not part of any recorded question.
/// </param>
public sealed record LlmSettings(string Model, Uri Server, LlmMode Mode, string TranscriptDirectory, int Seed = 42, int ContextLength = LlmSettings.DefaultContextLength,
    int MaxAttempts = 3, double TimeoutSeconds = LlmSettings.DefaultTimeoutSeconds, double StallTimeoutSeconds = LlmSettings.DefaultStallTimeoutSeconds,
    bool AllowModelChange = false, Func<HttpMessageHandler>? Transport = null)
{
    public const string DefaultModel = "qwen2.5:7b-instruct";

    /// <summary>
    /// The name of FairNad's built-in scripted designer (<c>--llm scripted</c>): a rule-based stand-in that answers
    /// LLM-driven mutation in-process through Ollama's API (see FairNad.Search.ScriptedDesigner), for machines with no
    /// model. It is not a language model; its answers are recorded and replayed like any model's.
    /// </summary>
    public const string ScriptedModel = "fairnad-scripted";

    /// <summary>Ollama's num_ctx sent with every request: room for a ~4k-token mutation prompt, a full-spec answer and a repair round.</summary>
    public const int DefaultContextLength = 8192;

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

    /// <summary>
    /// Parses <c>ollama:&lt;model&gt;</c> (auto with that model), <c>live</c>, <c>replay</c>, <c>auto</c> or <c>off</c>, with
    /// <paramref name="model"/> (--llm-model) or else the default model; a replay never contacts <paramref name="server"/>.
    /// </summary>
    /// <exception cref="ArgumentException">a malformed value, or two different models.</exception>
    public static LlmSettings Parse(string text, string transcriptDirectory, string? server = null, string? model = null) =>
        new(ResolveModel(text, model) ?? DefaultModel, ResolveServer(server), ParseChoice(text).Mode, transcriptDirectory);

    /// <summary>The model that <c>--llm</c> (ollama:&lt;model&gt;) and <c>--llm-model</c> name, or null when neither does.</summary>
    /// <exception cref="ArgumentException">they name different models, or --llm-model is blank.</exception>
    public static string? ResolveModel(string? llm, string? model)
    {
        if (model is not null && model.Trim().Length == 0)
        {
            throw new ArgumentException("--llm-model must name a model, e.g. qwen2.5:7b-instruct");
        }

        var named = llm is null ? null : ParseChoice(llm).Model;
        return named is not null && model is not null && named != model
            ? throw new ArgumentException($"--llm {llm} and --llm-model {model} name different models; give the model once")
            : model ?? named;
    }

    /// <summary>A num_ctx of at least 512 tokens and at most 1,048,576.</summary>
    /// <exception cref="ArgumentException">otherwise; the message names <paramref name="source"/>.</exception>
    public static int CheckContextLength(int tokens, string source) =>
        tokens is >= 512 and <= 1 << 20 ? tokens : throw new ArgumentException($"{source} must be a number of tokens from 512 to 1048576, not {tokens}");

    /// <summary>The mode and, for <c>ollama:&lt;model&gt;</c>, the model of an <c>--llm</c> value.</summary>
    /// <exception cref="ArgumentException">none of the accepted forms.</exception>
    public static (LlmMode Mode, string? Model) ParseChoice(string text) => text switch
    {
        "live" => (LlmMode.Live, null),
        "replay" => (LlmMode.Replay, null),
        "auto" => (LlmMode.Auto, null),
        "off" => (LlmMode.Off, null),
        "scripted" => (LlmMode.Auto, ScriptedModel),
        _ when text.StartsWith("ollama:", StringComparison.Ordinal) && text.Length > 7 => (LlmMode.Auto, text[7..]),
        _ => throw new ArgumentException($"--llm must be live, replay, auto, off, scripted or ollama:<model>, not '{text}'"),
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

/// <summary>The server's model is not the one a transcript folder was recorded with; the message names both.</summary>
public sealed class LlmModelChangedException(string message) : Exception(message);

/// <summary>One stage's LLM use: questions asked, how each was answered, tokens and seconds of the live ones.</summary>
/// <param name="Calls">Questions asked (first answers and repairs).</param>
/// <param name="Live">Answered by the server now.</param>
/// <param name="Replayed">Answered from the transcripts.</param>
/// <param name="Failed">Failed after the retries (live), or a recorded failure replayed.</param>
/// <param name="Seconds">Time spent in live calls, retries included.</param>
public sealed record LedgerEntry(string Stage, int Calls, int Live, int Replayed, int Failed, long PromptTokens, long CompletionTokens, double Seconds)
{
    /// <summary>The sum of two entries (of one stage, or of a stage over several sessions).</summary>
    public LedgerEntry Plus(LedgerEntry other) => new(Stage, Calls + other.Calls, Live + other.Live, Replayed + other.Replayed, Failed + other.Failed,
        PromptTokens + other.PromptTokens, CompletionTokens + other.CompletionTokens, Seconds + other.Seconds);

    /// <summary>One line: "mutate: 12 call(s): 9 live, 2 replayed, 1 failed; 41,200 prompt + 9,800 completion tokens; 812.4 s live".</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Stage}: {Calls} call(s): {Live} live, {Replayed} replayed, {Failed} failed; {PromptTokens:N0} prompt + {CompletionTokens:N0} completion tokens; {Seconds:F1} s live");
}

/// <summary>LLM use per stage. Replayed answers cost no tokens and no time.</summary>
public sealed class CostLedger
{
    private readonly Dictionary<string, LedgerEntry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

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

    /// <summary>Every stage together (stage "all").</summary>
    public LedgerEntry Total => Entries.Aggregate(new LedgerEntry("all", 0, 0, 0, 0, 0, 0, 0), (sum, e) => sum.Plus(e with { Stage = "all" }));

    internal void Record(string stage, bool live, bool replayed, bool failed, long prompt, long completion, double seconds)
    {
        lock (_gate)
        {
            _entries[stage] = (_entries.GetValueOrDefault(stage) ?? new LedgerEntry(stage, 0, 0, 0, 0, 0, 0, 0))
                .Plus(new LedgerEntry(stage, 1, live && !failed ? 1 : 0, replayed && !failed ? 1 : 0, failed ? 1 : 0, prompt, completion, seconds));
        }
    }

    public string Summary() => Entries.Count == 0 ? "LLM: no calls" : string.Join("\n", Entries.Select(e => "LLM " + e));
}

/// <summary>
/// The product's one LLM pipeline: a transcript folder (<see cref="TranscriptStore"/>) in front of OllamaSharp's
/// <see cref="IChatClient"/>, with deterministic options (temperature 0, fixed seed, top_k 1, fixed context), one
/// request at a time. Replay never contacts a server; auto contacts it only for a question not yet recorded, and then
/// refuses a server whose model differs from the recorded one unless told otherwise. Answers are checked against a
/// JSON schema and a validator; a malformed one goes back for repair with a bounded context (the question, the latest
/// answer and what is wrong with it), so repairs never push the instructions out of the model's context window.
/// </summary>
public sealed class LlmSession : IDisposable
{
    /// <summary>Tokens per byte assumed when estimating a prompt: JSON and code run at about 3 bytes a token, prose at 4, so this errs high.</summary>
    public const double BytesPerToken = 3;

    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private readonly TranscriptStore _store;
    private readonly LlmRetryPolicy _retry;
    private readonly Action<string> _log;
    private IChatClient? _live;
    private IDisposable? _owned;
    private (string Key, string Stage, ModelInfo Model, ExchangeRequest Request, string Error)? _pendingFailure;

    private LlmSession(LlmSettings settings, ModelHistory models, TranscriptStore store, LlmRetryPolicy retry, Action<string> log)
    {
        Settings = settings;
        Models = models;
        _store = store;
        _retry = retry;
        _log = log;
    }

    public LlmSettings Settings { get; }

    /// <summary>The model answering now, and the ones it replaced.</summary>
    public ModelHistory Models { get; private set; }

    public ModelInfo Model => Models.Current;

    public CostLedger Ledger { get; } = new();

    /// <summary>
    /// Opens the pipeline. Live asks the server for its model at once; auto reads the recorded model and asks the server
    /// only when a question was never recorded (or nothing is); replay reads the recorded model and never contacts a server.
    /// </summary>
    /// <param name="retry">How transient server failures are retried (default <see cref="LlmRetryPolicy.Default"/>).</param>
    /// <param name="log">Warnings (a prompt too long for num_ctx, an allowed change of model).</param>
    /// <exception cref="LlmModelChangedException">the server's model differs from the recorded one and <see cref="LlmSettings.AllowModelChange"/> is off.</exception>
    public static async Task<LlmSession> OpenAsync(LlmSettings settings, string stage, LlmRetryPolicy? retry = null, Action<string>? log = null, CancellationToken cancel = default)
    {
        if (settings.Mode == LlmMode.Off)
        {
            throw new LlmDisabledException($"{stage} needs an LLM, but the LLM is off (--llm off); use --llm replay with recorded transcripts, or --llm live with a running Ollama");
        }

        var store = new TranscriptStore(settings.TranscriptDirectory);
        var recorded = store.ReadModels();
        if (settings.Mode == LlmMode.Replay)
        {
            if (recorded is null)
            {
                throw new LlmReplayMissException($"{stage}: no recorded transcripts in {settings.TranscriptDirectory} ({TranscriptStore.ModelFile} is missing); record them once with --llm live or auto against a running Ollama");
            }

            if (!recorded.Current.Answers(settings.Model))
            {
                throw new LlmModelChangedException($"{stage}: the transcripts in {settings.TranscriptDirectory} were recorded with {recorded.Current}, not {settings.Model}; replay them with --llm-model {recorded.Current.Name}");
            }
        }

        var session = new LlmSession(settings, recorded ?? new ModelHistory(new ModelInfo(settings.Model, string.Empty, null, null, null), []), store, retry ?? LlmRetryPolicy.Default, log ?? (_ => { }));
        try
        {
            // Live always needs the server; auto needs it now only when nothing recorded says which weights answer.
            if (settings.Mode == LlmMode.Live || (settings.Mode == LlmMode.Auto && (recorded is null || !recorded.Current.Answers(settings.Model))))
            {
                await session.ConnectAsync(cancel).ConfigureAwait(false);
            }

            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>The options every live request carries.</summary>
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
    /// returns a problem, the question, that answer and the problem go back to the model, up to
    /// <see cref="LlmSettings.MaxAttempts"/> answers.
    /// </summary>
    /// <param name="answerTokens">About how many tokens a good answer has, to check that prompt and answer fit in num_ctx.</param>
    /// <exception cref="LlmOutputException">no valid answer after the repairs; each problem is listed.</exception>
    /// <exception cref="LlmUnavailableException">the server failed after its retries, or a recorded failure was replayed.</exception>
    /// <exception cref="LlmReplayMissException">replay mode, and the question was never recorded.</exception>
    public async Task<JsonElement> AskJsonAsync(string stage, IReadOnlyList<ChatMessage> prompt, JsonElement schema, Func<JsonElement, string?> validate,
        CancellationToken cancel = default, int answerTokens = 1024)
    {
        var messages = prompt.ToList();
        var problems = new List<string>();
        await _oneAtATime.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            _pendingFailure = null;
            for (var attempt = 1; attempt <= Settings.MaxAttempts; attempt++)
            {
                var text = await AskAsync(stage, messages, schema, answerTokens, cancel).ConfigureAwait(false);
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

                // Bounded: the question, the latest answer and its problem (earlier problems as one short line each), never the whole history.
                var earlier = problems.Count > 1 ? " Earlier answers had these problems too: " + string.Join(" ", problems.SkipLast(1).Select(p => Shorten(p, 300))) : string.Empty;
                messages = [.. prompt, new ChatMessage(ChatRole.Assistant, text),
                    new ChatMessage(ChatRole.User, $"That answer is invalid: {problem}.{earlier} Reply again with only JSON that matches the schema, fixing every problem.")];
            }
        }
        finally
        {
            _oneAtATime.Release();
        }

        throw new LlmOutputException($"{stage}: no valid answer after {Settings.MaxAttempts} attempts: {string.Join("; ", problems)}");
    }

    /// <summary>
    /// Records the last failure of the server, so that a replay of this run fails there too. A search calls it when it
    /// records the failure as an outcome (a failed mutation); a failure that stops the run is not recorded, and is asked
    /// again on resume.
    /// </summary>
    public void RecordFailure()
    {
        if (_pendingFailure is { } f && Settings.Mode != LlmMode.Replay)
        {
            _store.Write(f.Key, f.Stage, f.Model, f.Request, null, 0, 0, f.Error);
        }

        _pendingFailure = null;
    }

    /// <summary>About how many tokens <paramref name="messages"/> take (UTF-8 bytes / <see cref="BytesPerToken"/>, plus a few per message).</summary>
    public static int EstimateTokens(IEnumerable<ChatMessage> messages) =>
        messages.Sum(m => (int)Math.Ceiling(Encoding.UTF8.GetByteCount(m.Text) / BytesPerToken) + 8);

    public void Dispose()
    {
        _live?.Dispose();
        _owned?.Dispose();
        _oneAtATime.Dispose();
    }

    /// <summary>Hash of a prompt as replay reports it.</summary>
    public static string PromptHash(IEnumerable<ChatMessage> messages) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", messages.Select(m => $"{m.Role}: {m.Text}")))))[..16];

    /// <summary>One question: a recorded answer or failure (any model of the history, oldest first), else the server.</summary>
    private async Task<string> AskAsync(string stage, List<ChatMessage> messages, JsonElement schema, int answerTokens, CancellationToken cancel)
    {
        var request = new ExchangeRequest(messages, Settings.Seed, Settings.ContextLength, schema);
        if (Settings.Mode != LlmMode.Live && Models.Current.Digest.Length > 0 && _store.Find(Models.Digests.Select(d => TranscriptStore.Key(d, request))) is { } recorded)
        {
            Ledger.Record(stage, live: false, replayed: true, failed: recorded.Error is not null, 0, 0, 0);
            return recorded.Answer ?? throw new LlmUnavailableException(recorded.Error!);
        }

        if (Settings.Mode == LlmMode.Replay)
        {
            throw new LlmReplayMissException($"{stage}: no recorded answer for prompt {PromptHash(messages)} in {Settings.TranscriptDirectory}; run with --llm live or auto to record it");
        }

        if (_live is null)
        {
            await ConnectAsync(cancel).ConfigureAwait(false);
            if (_store.Find([TranscriptStore.Key(Models.Current.Digest, request)]) is { Answer: { } answer } && Settings.Mode == LlmMode.Auto)
            {
                // Nothing said which weights answer until now, and these recorded this question already.
                Ledger.Record(stage, live: false, replayed: true, failed: false, 0, 0, 0);
                return answer;
            }
        }

        var estimate = EstimateTokens(messages);
        if (estimate + answerTokens > Settings.ContextLength)
        {
            _log(string.Create(CultureInfo.InvariantCulture,
                $"LLM {stage}: the prompt is about {estimate:N0} tokens and the answer about {answerTokens:N0}, more than num_ctx {Settings.ContextLength:N0}; Ollama would silently drop the oldest messages (the instructions): raise llm.contextLength (--llm-num-ctx)"));
        }

        var key = TranscriptStore.Key(Models.Current.Digest, request);
        var watch = Stopwatch.StartNew();
        ChatResponse response;
        try
        {
            response = await _live!.GetResponseAsync(messages, Options(schema), cancel).ConfigureAwait(false);
        }
        catch (LlmUnavailableException e)
        {
            Ledger.Record(stage, live: true, replayed: false, failed: true, 0, 0, watch.Elapsed.TotalSeconds);
            _pendingFailure = (key, stage, Models.Current, request, e.Message);
            throw;
        }

        var prompt = response.Usage?.InputTokenCount ?? 0;
        var completion = response.Usage?.OutputTokenCount ?? 0;
        Ledger.Record(stage, live: true, replayed: false, failed: false, prompt, completion, watch.Elapsed.TotalSeconds);
        if (prompt + completion >= Settings.ContextLength)
        {
            _log(string.Create(CultureInfo.InvariantCulture,
                $"LLM {stage}: the server counted {prompt:N0} prompt + {completion:N0} answer tokens, num_ctx is {Settings.ContextLength:N0}: the prompt or the answer was cut; raise llm.contextLength (--llm-num-ctx)"));
        }

        _store.Write(key, stage, Models.Current, request, response.Text, prompt, completion);
        return response.Text;
    }

    /// <summary>Connects to the server and checks that its model is the recorded one (or records the change, where allowed).</summary>
    private async Task ConnectAsync(CancellationToken cancel)
    {
        // No HttpClient timeout of its own: the handler applies the user's (total and stall), per attempt, and tells it apart from cancellation.
        if (Settings.Transport is null && new ModelInfo(LlmSettings.ScriptedModel, string.Empty, null, null, null).Answers(Settings.Model))
        {
            throw new LlmUnavailableException($"{Settings.Model} is FairNad's scripted designer, which answers only the LLM-driven mutation of a search (fairnad search --llm scripted); use a model served by Ollama here");
        }

        var handler = new OllamaRequestHandler(Settings, _retry, Settings.Transport?.Invoke() ?? new SocketsHttpHandler()) { FailFastWhenRefused = true };
        var http = new HttpClient(handler) { BaseAddress = Settings.Server, Timeout = Timeout.InfiniteTimeSpan };
        var client = new OllamaApiClient(http, Settings.Model);
        ModelInfo served;
        try
        {
            served = await DescribeAsync(client, Settings, cancel).ConfigureAwait(false);
        }
        catch
        {
            client.Dispose();
            http.Dispose();
            throw;
        }

        handler.FailFastWhenRefused = false;
        var recorded = _store.ReadModels();
        if (recorded is null)
        {
            Models = new ModelHistory(served, []);
            _store.WriteModels(Models);
        }
        else if (recorded.Current.Name != served.Name || recorded.Current.Digest != served.Digest)
        {
            if (!Settings.AllowModelChange)
            {
                client.Dispose();
                http.Dispose();
                throw new LlmModelChangedException(
                    $"the transcripts in {Settings.TranscriptDirectory} were recorded with {recorded.Current}, but {Settings.Server} now serves {served}; " +
                    $"its answers could differ. Serve the recorded model again, replay with --llm replay, or pass --llm-allow-model-change to go on with the new one " +
                    "(the change is recorded; answers already recorded are still replayed)");
            }

            Models = recorded.ChangedTo(served);
            _store.WriteModels(Models);
            _log($"LLM model changed (allowed by --llm-allow-model-change): recorded {recorded.Current}, now {served}; recorded answers of the earlier model are still replayed");
        }
        else
        {
            Models = recorded;
        }

        _live = client;
        _owned = http;
    }

    private static string Shorten(string text, int length) => text.Length <= length ? text : text[..length] + "...";

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
}
