using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
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
/// Sits under OllamaSharp's <see cref="HttpClient"/>: every request gets the user's timeout (<see cref="LlmSettings.TimeoutSeconds"/>),
/// transient failures (5xx, refused or reset connections, the runner terminated, a timeout) are retried with
/// <see cref="LlmRetryPolicy"/> through a Polly pipeline, and whatever still fails becomes one
/// <see cref="LlmUnavailableException"/> whose one-line message carries Ollama's own error text, the endpoint, the model
/// and what to do. Answers that succeed pass through unchanged (so recorded exchanges do not change).
/// </summary>
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
        var attempts = 0;
        try
        {
            return await _pipeline.ExecuteAsync(
                async ct =>
                {
                    attempts++;
                    return await AttemptAsync(request, ct).ConfigureAwait(false);
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (OllamaFailure failure)
        {
            throw new LlmUnavailableException(Describe(request, failure, attempts), failure.InnerException);
        }
    }

    private async ValueTask<HttpResponseMessage> AttemptAsync(HttpRequestMessage request, CancellationToken cancel)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timeout.CancelAfter(TimeSpan.FromSeconds(_settings.TimeoutSeconds));
        HttpResponseMessage? response = null;
        try
        {
            response = await base.SendAsync(request, timeout.Token).ConfigureAwait(false);

            // The whole answer is read within the timeout, so a connection that dies mid-answer is retried too.
            await response.Content.LoadIntoBufferAsync(timeout.Token).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
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
                throw new OllamaFailure(false, $"HTTP {(int)response.StatusCode} answered with {media}, not JSON: {Excerpt(body)}",
                    $"{_settings.Server} does not look like Ollama's API; point OLLAMA_HOST or --ollama-host at the Ollama server (default http://localhost:11434)");
            }

            // A streamed answer reports a failure after the headers, as a last line {"error": "..."}.
            if (LastLine(body) is { } last && last.StartsWith("{\"error\"", StringComparison.Ordinal))
            {
                var text = ErrorText(last);
                throw new OllamaFailure(text.Contains("runner process has terminated", StringComparison.OrdinalIgnoreCase),
                    $"the answer ended in an error: {text}",
                    "the model server failed: check the Ollama server's log; a killed runner usually means too little memory, so try a smaller model");
            }

            var ok = response;
            response = null;
            return ok;
        }
        catch (OperationCanceledException e) when (!cancel.IsCancellationRequested)
        {
            // Our timeout, not the user's cancellation (Ctrl+C), which passes through untouched.
            throw new OllamaFailure(true, string.Create(CultureInfo.InvariantCulture, $"no answer within {_settings.TimeoutSeconds:G} s"),
                "a 7B model on a CPU can take minutes per answer: raise --llm-timeout (or FAIRNAD_LLM_TIMEOUT, or llm.timeoutSeconds in the experiment), or use a smaller model", e);
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
