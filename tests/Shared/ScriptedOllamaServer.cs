using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace FairNad.Tests.Shared;

/// <summary>
/// A loopback HTTP server speaking the subset of Ollama's API that FairNad uses (/api/tags, /api/show, /api/chat),
/// answering chat requests from a script and recording every request. A chat request with "stream": true (or none, as
/// in Ollama) is answered as Ollama streams: NDJSON chunks of the scripted content, then a last chunk with done: true;
/// one with "stream": false gets the whole answer as one JSON object. Its answers are test fixtures, written by the
/// team; they are never presented as a model's output.
/// </summary>
public sealed class ScriptedOllamaServer : IDisposable
{
    /// <summary>How many chunks a streamed answer's content is split into by default (fewer when it is shorter).</summary>
    public const int ContentChunks = 4;

    private const string CreatedAt = "2026-01-01T00:00:00Z";
    private readonly CancellationTokenSource _stopped = new();
    private int _chatCalls;
    private int _requests;

    public const string Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private readonly HttpListener _listener = new();
    private readonly Func<JsonElement, string> _answer;

    public ScriptedOllamaServer(Func<JsonElement, string> answer, string model = "test-model:latest")
    {
        _answer = answer;
        ModelName = model;
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Uri = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(Uri.ToString());
        _listener.Start();
        _ = Task.Run(ServeAsync);
    }

    public Uri Uri { get; }

    public string ModelName { get; }

    /// <summary>The digest /api/tags reports (default <see cref="Digest"/>): another one is a model changed on the server.</summary>
    public string ServedDigest { get; init; } = Digest;

    /// <summary>How many requests arrived on any path (model list and details included).</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>
    /// Consulted for every request with its path and, for /api/chat, the 1-based number of the chat request; a fault it
    /// returns is served instead of the normal answer. Settable while the server runs (a server that goes down and comes back).
    /// </summary>
    public Func<string, int, Fault?>? Faults { get; set; }

    /// <summary>
    /// Consulted for every streamed /api/chat request with its 1-based number: how its chunks are delivered (slowly, with
    /// a stall, cut before the last one, or ended by an error line). Null: promptly and completely.
    /// </summary>
    public Func<int, StreamScript?>? Streams { get; set; }

    /// <summary>False: every chat request is answered as one JSON object, as a server (or proxy) that does not stream would.</summary>
    public bool Streaming { get; set; } = true;

    /// <summary>How many /api/chat requests arrived, faulted ones included.</summary>
    public int ChatCalls => Volatile.Read(ref _chatCalls);

    /// <summary>Bodies of the /api/chat requests answered normally, in order.</summary>
    public List<JsonElement> ChatRequests { get; } = [];

    public void Dispose()
    {
        _stopped.Cancel();
        _listener.Stop();
        _listener.Close();
        _stopped.Dispose();
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            try
            {
                using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
                var body = await reader.ReadToEndAsync();
                var path = context.Request.Url!.AbsolutePath;
                Interlocked.Increment(ref _requests);
                var call = path == "/api/chat" ? Interlocked.Increment(ref _chatCalls) : 0;
                if (Faults?.Invoke(path, call) is { } fault)
                {
                    // Served aside, so a slow fault does not hold up the requests behind it.
                    _ = Task.Run(() => ServeAsync(context, fault));
                    continue;
                }

                string reply;
                switch (path)
                {
                    case "/api/tags":
                        reply = JsonSerializer.Serialize(new { models = new[] { new { name = ModelName, model = ModelName, digest = ServedDigest, size = 4_700_000_000L, modified_at = "2026-01-01T00:00:00Z", details = new { family = "qwen2", parameter_size = "7.6B", quantization_level = "Q4_K_M" } } } });
                        break;
                    case "/api/show":
                        reply = JsonSerializer.Serialize(new { modelfile = "", parameters = "", template = "", details = new { family = "qwen2", parameter_size = "7.6B", quantization_level = "Q4_K_M" } });
                        break;
                    case "/api/chat":
                        var request = JsonDocument.Parse(body).RootElement.Clone();
                        lock (ChatRequests)
                        {
                            ChatRequests.Add(request);
                        }

                        var content = _answer(request);
                        var streamed = !request.TryGetProperty("stream", out var stream) || stream.ValueKind != JsonValueKind.False;
                        if (streamed && Streaming)
                        {
                            // Served aside, so a slow or stalled stream does not hold up the requests behind it (a retry).
                            var script = Streams?.Invoke(call) ?? new StreamScript();
                            _ = Task.Run(() => StreamAsync(context, content, script));
                            continue;
                        }

                        reply = JsonSerializer.Serialize(new
                        {
                            model = ModelName,
                            created_at = CreatedAt,
                            message = new { role = "assistant", content },
                            done = true,
                            done_reason = "stop",
                            prompt_eval_count = 100,
                            eval_count = 20,
                        });
                        break;
                    default:
                        context.Response.StatusCode = 404;
                        reply = "{\"error\":\"not found\"}";
                        break;
                }

                var bytes = Encoding.UTF8.GetBytes(reply + "\n");
                context.Response.ContentType = "application/json";
                context.Response.ContentLength64 = bytes.Length;
                await context.Response.OutputStream.WriteAsync(bytes);
                context.Response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>
    /// Streams <paramref name="content"/> as Ollama does: chunks of the content, each a line flushed on its own, then a
    /// last chunk with done: true and the same counts as the whole answer, all as <paramref name="script"/> says.
    /// </summary>
    private async Task StreamAsync(HttpListenerContext context, string content, StreamScript script)
    {
        var stopped = _stopped.Token;
        try
        {
            context.Response.ContentType = "application/x-ndjson";
            context.Response.SendChunked = true;
            var output = context.Response.OutputStream;
            async Task Send(object chunk)
            {
                if (script.ChunkDelay > TimeSpan.Zero)
                {
                    await Task.Delay(script.ChunkDelay, stopped);
                }

                await output.WriteAsync(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(chunk) + "\n"), stopped);
                await output.FlushAsync(stopped);
            }

            var pieces = Split(content, script.Chunks);
            for (var i = 0; i <= pieces.Count; i++)
            {
                if (script.StallAfter == i)
                {
                    await Task.Delay(script.StallFor ?? Timeout.InfiniteTimeSpan, stopped);
                }

                if (script.CutAfter == i)
                {
                    context.Response.Close();
                    return;
                }

                if (script.ErrorAfter == i)
                {
                    await Send(new { error = script.Error });
                    context.Response.Close();
                    return;
                }

                await Send(i < pieces.Count
                    ? (object)new { model = ModelName, created_at = CreatedAt, message = new { role = "assistant", content = pieces[i] }, done = false }
                    : new
                    {
                        model = ModelName,
                        created_at = CreatedAt,
                        message = new { role = "assistant", content = string.Empty },
                        done = true,
                        done_reason = "stop",
                        prompt_eval_count = 100,
                        eval_count = 20,
                    });
            }

            context.Response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
        }
    }

    /// <summary><paramref name="content"/> in at most <paramref name="count"/> nearly equal pieces, never splitting a surrogate pair.</summary>
    public static List<string> Split(string content, int count = ContentChunks)
    {
        var pieces = new List<string>();
        var start = 0;
        for (var i = 1; i <= count; i++)
        {
            var end = content.Length * i / count;
            if (end < content.Length && char.IsLowSurrogate(content[end]))
            {
                end++;
            }

            if (end > start)
            {
                pieces.Add(content[start..end]);
                start = end;
            }
        }

        return pieces;
    }

    private static async Task ServeAsync(HttpListenerContext context, Fault fault)
    {
        try
        {
            if (fault.Delay > TimeSpan.Zero)
            {
                await Task.Delay(fault.Delay);
            }

            if (fault.Abort)
            {
                // Promise more than is sent, then cut the connection: the client sees it end mid-answer.
                context.Response.ContentLength64 = 1000;
                await context.Response.OutputStream.WriteAsync("{\"model\""u8.ToArray());
                await context.Response.OutputStream.FlushAsync();
                context.Response.Abort();
                return;
            }

            var bytes = Encoding.UTF8.GetBytes(fault.Body);
            context.Response.StatusCode = fault.Status;
            context.Response.ContentType = fault.ContentType;
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    /// <summary>The text of the last user message of a chat request.</summary>
    public static string LastUserMessage(JsonElement request) =>
        request.GetProperty("messages").EnumerateArray().Last(m => m.GetProperty("role").GetString() == "user").GetProperty("content").GetString()!;
}

/// <summary>A scripted failure: a status and body, a connection cut in the middle of the answer (<see cref="Abort"/>), or an answer after <see cref="Delay"/>.</summary>
public sealed record Fault(int Status, string Body, string ContentType = "application/json; charset=utf-8", bool Abort = false, TimeSpan Delay = default)
{
    /// <summary>What Ollama answers when the model's runner was killed (out of memory).</summary>
    public static Fault RunnerKilled { get; } = new(500, """{"error":"llama runner process has terminated: signal: killed"}""");

    public static Fault ModelNotFound(string model) => new(404, $$"""{"error":"model '{{model}}' not found"}""");

    public static Fault Html { get; } = new(200, "<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>", "text/html");

    public static Fault Reset { get; } = new(0, string.Empty, Abort: true);
}

/// <summary>
/// How a streamed answer is delivered: its content in <see cref="Chunks"/> chunks (fewer when it is shorter), with
/// <see cref="ChunkDelay"/> before every chunk (a slow but alive model); silence for
/// <see cref="StallFor"/> (null: until the server is disposed) before content chunk number <see cref="StallAfter"/> (0-based,
/// so 0 stalls before the first, and the number of content chunks before the last chunk); the stream ended cleanly before content chunk <see cref="CutAfter"/> without its last
/// chunk; or, before content chunk <see cref="ErrorAfter"/>, a line {"error": <see cref="Error"/>} and the end.
/// </summary>
public sealed record StreamScript(TimeSpan ChunkDelay = default, int Chunks = ScriptedOllamaServer.ContentChunks, int? StallAfter = null, TimeSpan? StallFor = null, int? CutAfter = null, int? ErrorAfter = null,
    string Error = "llama runner process has terminated: signal: killed");

/// <summary>A clock whose timers fire at once: retry delays are recorded in <see cref="Delays"/> instead of slept.</summary>
public sealed class InstantTimeProvider : TimeProvider
{
    public List<TimeSpan> Delays { get; } = [];

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        if (dueTime != Timeout.InfiniteTimeSpan)
        {
            lock (Delays)
            {
                Delays.Add(dueTime);
            }

            ThreadPool.QueueUserWorkItem(_ => callback(state));
        }

        return new Fired();
    }

    private sealed class Fired : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => true;

        public void Dispose()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
