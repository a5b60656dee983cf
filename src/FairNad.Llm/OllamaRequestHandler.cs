using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Polly;
using Polly.Retry;

namespace FairNad.Llm;

/// <summary>
/// How failed requests to Ollama are retried: at most <see cref="MaxAttempts"/> attempts, the n-th retry after
/// <see cref="BaseDelaySeconds"/>·2^(n-1) seconds scaled by a jitter factor in [0.5, 1) drawn from a <see cref="Random"/>
/// seeded with <see cref="Seed"/>, so the schedule depends on nothing but the seed. The delays pass through
/// <see cref="Time"/> (tests give one that does not sleep).
/// </summary>
public sealed record LlmRetryPolicy(int MaxAttempts = 4, double BaseDelaySeconds = 2, int Seed = 0, TimeProvider? Time = null)
{
    public static LlmRetryPolicy Default { get; } = new();

    /// <summary>The wait before retry <paramref name="retry"/> (0 for the first retry).</summary>
    public TimeSpan Delay(int retry, Random jitter) => TimeSpan.FromMilliseconds(Math.Floor(1000 * BaseDelaySeconds * Math.Pow(2, retry) * (0.5 + (0.5 * jitter.NextDouble()))));
}

/// <summary>
/// Sits under OllamaSharp's <see cref="HttpClient"/>: transient failures (5xx, refused or reset connections, the runner
/// terminated, a timeout, a stalled or cut stream) are retried with <see cref="LlmRetryPolicy"/> through a Polly pipeline,
/// and whatever still fails becomes one <see cref="LlmUnavailableException"/> whose one-line message carries Ollama's own
/// error text, the endpoint, the model and what to do.
/// </summary>
/// <remarks>
/// A non-streamed chat or generate request is sent streamed instead and its chunks are joined here into the one answer
/// Ollama would have given without streaming, so everything above (OllamaSharp, the cache, the recorded exchanges) sees
/// no difference. Streaming is what lets two clocks apply: <see cref="LlmSettings.StallTimeoutSeconds"/> to the wait for
/// each chunk (the first one covers the model load and the prompt evaluation), which catches a silent server early, and
/// <see cref="LlmSettings.TimeoutSeconds"/> to the whole attempt, long enough for a slow model that is still writing.
/// Other requests get the total timeout only and pass through unchanged.
/// </remarks>
internal sealed class OllamaRequestHandler : DelegatingHandler
{
    private readonly LlmSettings _settings;
    private readonly LlmRetryPolicy _policy;
    private readonly Random _jitter;
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;

    public OllamaRequestHandler(LlmSettings settings, LlmRetryPolicy policy, HttpMessageHandler inner)
        : base(inner)
    {
        _settings = settings;
        _policy = policy;
        _jitter = new Random(policy.Seed);
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = policy.Time ?? TimeProvider.System };
        if (policy.MaxAttempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = policy.MaxAttempts - 1,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is OllamaFailure { Transient: true } failure && !(failure.Refused && FailFastWhenRefused)),
                DelayGenerator = args =>
                {
                    lock (_jitter)
                    {
                        return ValueTask.FromResult<TimeSpan?>(_policy.Delay(args.AttemptNumber, _jitter));
                    }
                },
                OnRetry = args =>
                {
                    Retries.Add(args.RetryDelay);
                    return ValueTask.CompletedTask;
                },
            });
        }

        _pipeline = builder.Build();
    }

    /// <summary>While the session opens, a server that refuses connections is reported at once: nothing listens, so waiting rarely helps.</summary>
    public bool FailFastWhenRefused { get; set; }

    /// <summary>Every retry's delay, in order (for tests and diagnostics).</summary>
    public List<TimeSpan> Retries { get; } = [];

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var streamed = await StreamInsteadAsync(request, cancellationToken).ConfigureAwait(false);
        var attempts = 0;
        try
        {
            return await _pipeline.ExecuteAsync(
                async ct =>
                {
                    attempts++;
                    return await AttemptAsync(request, streamed, ct).ConfigureAwait(false);
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (OllamaFailure failure)
        {
            throw new LlmUnavailableException(Describe(request, failure, attempts), failure.InnerException);
        }
    }

    /// <summary>
    /// Turns a POST to /api/chat or /api/generate that asks for one answer ("stream": false, or no stream field) into a
    /// streamed one: the body keeps every other byte and its headers; only the stream field changes (or is added).
    /// </summary>
    /// <returns>Whether the request was rewritten (its answer is then read as a stream and joined).</returns>
    private static async Task<bool> StreamInsteadAsync(HttpRequestMessage request, CancellationToken cancel)
    {
        var path = request.RequestUri?.AbsolutePath ?? string.Empty;
        if (request.Method != HttpMethod.Post || request.Content is not { } original
            || !(path.EndsWith("/api/chat", StringComparison.Ordinal) || path.EndsWith("/api/generate", StringComparison.Ordinal)))
        {
            return false;
        }

        var body = await original.ReadAsByteArrayAsync(cancel).ConfigureAwait(false);
        var rewritten = StreamingBody(body);

        // The body was read, so it is replaced either way: the same bytes stay re-sendable on a retry whatever content type OllamaSharp used.
        var content = new ByteArrayContent(rewritten ?? body);
        foreach (var header in original.Headers.Where(h => !h.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)))
        {
            content.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        request.Content = content;
        original.Dispose();
        return rewritten is not null;
    }

    /// <summary>
    /// The body with its top-level "stream": false replaced by true, or "stream":true added after the opening brace when
    /// there is no stream field; null when the body is not a JSON object or already asks for something else.
    /// </summary>
    internal static byte[]? StreamingBody(byte[] body)
    {
        var reader = new Utf8JsonReader(body);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            var open = (int)reader.TokenStartIndex;
            var empty = true;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                empty = false;
                var isStream = reader.ValueTextEquals("stream"u8);
                reader.Read();
                if (isStream)
                {
                    if (reader.TokenType != JsonTokenType.False)
                    {
                        return null;
                    }

                    var at = (int)reader.TokenStartIndex;
                    return [.. body.AsSpan(0, at), .. "true"u8, .. body.AsSpan(at + 5)];
                }

                reader.Skip();
            }

            return [.. body.AsSpan(0, open + 1), .. (empty ? "\"stream\":true"u8 : "\"stream\":true,"u8), .. body.AsSpan(open + 1)];
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private async ValueTask<HttpResponseMessage> AttemptAsync(HttpRequestMessage request, bool streamed, CancellationToken cancel)
    {
        using var whole = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        whole.CancelAfter(TimeSpan.FromSeconds(_settings.TimeoutSeconds));

        // A stall timeout as long as the total or longer could never fire first, so it is not armed at all.
        var stallSeconds = streamed && _settings.StallTimeoutSeconds < _settings.TimeoutSeconds ? _settings.StallTimeoutSeconds : (double?)null;
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(whole.Token);
        if (stallSeconds is { } first)
        {
            stall.CancelAfter(TimeSpan.FromSeconds(first));
        }

        var chunks = new StreamedAnswer(request.RequestUri?.AbsolutePath.EndsWith("/api/chat", StringComparison.Ordinal) == true);
        HttpResponseMessage? response = null;
        try
        {
            response = await base.SendAsync(request, stall.Token).ConfigureAwait(false);
            var media = response.Content.Headers.ContentType?.MediaType;
            if (!streamed || !response.IsSuccessStatusCode || (media is not null && !media.Contains("json", StringComparison.OrdinalIgnoreCase)))
            {
                // The whole answer is read within the timeout, so a connection that dies mid-answer is retried too.
                await response.Content.LoadIntoBufferAsync(stall.Token).ConfigureAwait(false);
                var body = await response.Content.ReadAsStringAsync(stall.Token).ConfigureAwait(false);
                Check(response, body);
                var ok = response;
                response = null;
                return ok;
            }

            using var stream = await response.Content.ReadAsStreamAsync(stall.Token).ConfigureAwait(false);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            while (true)
            {
                if (stallSeconds is { } seconds)
                {
                    stall.CancelAfter(TimeSpan.FromSeconds(seconds));
                }

                var line = await reader.ReadLineAsync(stall.Token).ConfigureAwait(false);
                if (line is null)
                {
                    throw new OllamaFailure(true, string.Create(CultureInfo.InvariantCulture, $"the answer ended before it was complete ({chunks.Count} chunks, none marked done)"),
                        "the stream was cut before its last chunk: check the Ollama server's log (`ollama serve` output or `journalctl -u ollama`) and any proxy in between");
                }

                if (line.Trim().Length == 0)
                {
                    continue;
                }

                CheckErrorLine(line);
                JsonObject chunk;
                try
                {
                    chunk = JsonNode.Parse(line) as JsonObject ?? throw new JsonException("not an object");
                }
                catch (JsonException)
                {
                    throw new OllamaFailure(false, $"a line of the streamed answer is not a JSON object: {Excerpt(line)}", NotOllamaHint);
                }

                if (chunks.Add(chunk) is { } answer)
                {
                    return new HttpResponseMessage(HttpStatusCode.OK)
                    {
                        Content = new StringContent(answer, Encoding.UTF8, "application/json"),
                        RequestMessage = request,
                        Version = response.Version,
                    };
                }
            }
        }
        catch (OperationCanceledException e) when (!cancel.IsCancellationRequested)
        {
            // Our timeouts, not the user's cancellation (Ctrl+C), which passes through untouched.
            if (whole.IsCancellationRequested || stallSeconds is null)
            {
                throw chunks.Count == 0
                    ? new OllamaFailure(true, string.Create(CultureInfo.InvariantCulture, $"no answer within {_settings.TimeoutSeconds:G} s"), TimeoutHint, e)
                    : new OllamaFailure(true, string.Create(CultureInfo.InvariantCulture, $"no complete answer within {_settings.TimeoutSeconds:G} s ({chunks.Count} chunks received; the model is alive but slow)"), TimeoutHint, e);
            }

            throw new OllamaFailure(true, string.Create(CultureInfo.InvariantCulture, $"no new data for {stallSeconds:G} s (stall timeout; the answer had {chunks.Count} chunks so far)"),
                "the server went silent: check the Ollama server's log (`ollama serve` output or `journalctl -u ollama`); if loading the model or reading the prompt takes longer than that on this machine, raise --llm-stall-timeout (or FAIRNAD_LLM_STALL_TIMEOUT, or llm.stallTimeoutSeconds in the experiment)", e);
        }
        catch (HttpRequestException e)
        {
            var refused = e.HttpRequestError == HttpRequestError.ConnectionError
                || e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable };
            throw new OllamaFailure(true, Flatten(e), $"start it (`ollama serve`, `ollama pull {_settings.Model}`) or use --llm replay with recorded transcripts", e)
            {
                Refused = refused,
                Unreachable = true,
            };
        }
        catch (IOException e)
        {
            throw new OllamaFailure(true, $"the connection broke: {Flatten(e)}", $"start it (`ollama serve`, `ollama pull {_settings.Model}`) or use --llm replay with recorded transcripts", e)
            {
                Unreachable = true,
            };
        }
        finally
        {
            response?.Dispose();
        }
    }

    private const string TimeoutHint = "a 7B model on a CPU can take minutes per answer: raise --llm-timeout (or FAIRNAD_LLM_TIMEOUT, or llm.timeoutSeconds in the experiment), or use a smaller model";

    /// <summary>Throws the failure a whole (buffered) answer reports: an error status, a page that is not JSON, or a last line {"error": ...}.</summary>
    private void Check(HttpResponseMessage response, string body)
    {
        if (!response.IsSuccessStatusCode)
        {
            var status = (int)response.StatusCode;
            var text = ErrorText(body);
            var runnerDied = text.Contains("runner process has terminated", StringComparison.OrdinalIgnoreCase);
            throw new OllamaFailure(
                transient: status >= 500 || status == 429 || runnerDied,
                what: string.Create(CultureInfo.InvariantCulture, $"HTTP {status} {response.ReasonPhrase}: {text}"),
                hint: status == 404 && text.Contains("not found", StringComparison.OrdinalIgnoreCase)
                    ? $"run `ollama pull {_settings.Model}` on the server, or choose a pulled model with --llm ollama:<model>"
                    : status >= 500 || runnerDied
                        ? "the model server failed: check the Ollama server's log (`ollama serve` output or `journalctl -u ollama`); a killed runner usually means too little memory, so try a smaller model"
                        : "check that the address is Ollama's API (OLLAMA_HOST or --ollama-host) and that Ollama is up to date");
        }

        var media = response.Content.Headers.ContentType?.MediaType;
        if (media is not null && !media.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            throw new OllamaFailure(false, $"HTTP {(int)response.StatusCode} answered with {media}, not JSON: {Excerpt(body)}", NotOllamaHint);
        }

        if (LastLine(body) is { } last)
        {
            CheckErrorLine(last);
        }
    }

    private string NotOllamaHint => $"{_settings.Server} does not look like Ollama's API; point OLLAMA_HOST or --ollama-host at the Ollama server (default http://localhost:11434)";

    /// <summary>A streamed answer reports a failure after the headers, as a line {"error": "..."}.</summary>
    private static void CheckErrorLine(string line)
    {
        var trimmed = line.Trim();
        if (trimmed.StartsWith("{\"error\"", StringComparison.Ordinal))
        {
            var text = ErrorText(trimmed);
            throw new OllamaFailure(text.Contains("runner process has terminated", StringComparison.OrdinalIgnoreCase),
                $"the answer ended in an error: {text}",
                "the model server failed: check the Ollama server's log; a killed runner usually means too little memory, so try a smaller model");
        }
    }

    private string Describe(HttpRequestMessage request, OllamaFailure failure, int attempts)
    {
        var tries = attempts > 1 ? string.Create(CultureInfo.InvariantCulture, $" (gave up after {attempts} attempts)") : string.Empty;
        var endpoint = $"{request.Method} {request.RequestUri?.AbsolutePath}";
        var text = failure.Unreachable
            ? $"cannot reach Ollama at {_settings.Server} ({failure.What}) on {endpoint} for model {_settings.Model}{tries}; {failure.Hint}"
            : $"Ollama at {_settings.Server} failed on {endpoint} for model {_settings.Model}: {failure.What}{tries}; {failure.Hint}";
        return text.ReplaceLineEndings(" ");
    }

    /// <summary>Ollama's own message: the "error" field of a JSON body, else the body's first line.</summary>
    private static string ErrorText(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String)
            {
                return error.GetString()!;
            }
        }
        catch (JsonException)
        {
        }

        return Excerpt(body);
    }

    private static string Excerpt(string body)
    {
        var line = body.Trim().Split('\n', 2)[0].Trim();
        return line.Length == 0 ? "(empty body)" : line.Length > 200 ? line[..200] + "..." : line;
    }

    private static string? LastLine(string body) => body.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();

    private static string Flatten(Exception e)
    {
        var messages = new List<string>();
        for (var x = e; x is not null; x = x.InnerException)
        {
            if (!messages.Contains(x.Message))
            {
                messages.Add(x.Message);
            }
        }

        return string.Join(": ", messages);
    }

    /// <summary>
    /// The chunks of one streamed answer, joined into the answer Ollama gives without streaming: its last chunk (done,
    /// done_reason, durations, token counts, model, created_at) with the text of all chunks (message.content for chat,
    /// response for generate), the thinking likewise, and every tool call.
    /// </summary>
    private sealed class StreamedAnswer(bool chat)
    {
        private readonly StringBuilder _text = new();
        private readonly StringBuilder _thinking = new();
        private readonly List<JsonNode?> _toolCalls = [];
        private bool _thought;

        /// <summary>Chunks received so far.</summary>
        public int Count { get; private set; }

        /// <summary>Takes one chunk; returns the joined answer (JSON) when it is the last one (done: true), else null.</summary>
        public string? Add(JsonObject chunk)
        {
            Count++;
            var part = chat ? chunk["message"] as JsonObject : chunk;
            if (part is not null)
            {
                _text.Append(Text(part[chat ? "content" : "response"]));
                if (Text(part["thinking"]) is { } thinking)
                {
                    _thought = true;
                    _thinking.Append(thinking);
                }

                if (part["tool_calls"] is JsonArray calls)
                {
                    _toolCalls.AddRange(calls.Select(c => c?.DeepClone()));
                }
            }

            if (chunk["done"] is not JsonValue done || !done.TryGetValue<bool>(out var last) || !last)
            {
                return null;
            }

            var target = chunk;
            if (chat)
            {
                if (chunk["message"] is not JsonObject message)
                {
                    message = new JsonObject { ["role"] = "assistant" };
                    chunk["message"] = message;
                }

                target = message;
            }

            target[chat ? "content" : "response"] = _text.ToString();
            if (_thought)
            {
                target["thinking"] = _thinking.ToString();
            }

            if (_toolCalls.Count > 0)
            {
                target["tool_calls"] = new JsonArray([.. _toolCalls]);
            }

            return chunk.ToJsonString();
        }

        private static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
    }

    /// <summary>One failed attempt; <see cref="Transient"/> ones are retried.</summary>
    private sealed class OllamaFailure(bool transient, string what, string hint, Exception? inner = null) : Exception(what, inner)
    {
        public bool Transient { get; } = transient;

        public string What { get; } = what;

        public string Hint { get; } = hint;

        public bool Refused { get; init; }

        public bool Unreachable { get; init; }
    }
}
