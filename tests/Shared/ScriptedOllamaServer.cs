using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace FairNad.Tests.Shared;

/// <summary>
/// A loopback HTTP server speaking the subset of Ollama's API that FairNad uses (/api/tags, /api/show, /api/chat),
/// answering chat requests from a script and recording every request. Its answers are test fixtures, written by the
/// team; they are never presented as a model's output.
/// </summary>
public sealed class ScriptedOllamaServer : IDisposable
{
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

    /// <summary>How many /api/chat requests arrived, faulted ones included.</summary>
    public int ChatCalls => Volatile.Read(ref _chatCalls);

    /// <summary>Bodies of the /api/chat requests answered normally, in order.</summary>
    public List<JsonElement> ChatRequests { get; } = [];

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
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
                        reply = JsonSerializer.Serialize(new
                        {
                            model = ModelName,
                            created_at = "2026-01-01T00:00:00Z",
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
