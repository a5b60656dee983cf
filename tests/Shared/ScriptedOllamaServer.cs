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

    /// <summary>Bodies of the /api/chat requests received, in order.</summary>
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
                string reply;
                switch (path)
                {
                    case "/api/tags":
                        reply = JsonSerializer.Serialize(new { models = new[] { new { name = ModelName, model = ModelName, digest = Digest, size = 4_700_000_000L, modified_at = "2026-01-01T00:00:00Z", details = new { family = "qwen2", parameter_size = "7.6B", quantization_level = "Q4_K_M" } } } });
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

    /// <summary>The text of the last user message of a chat request.</summary>
    public static string LastUserMessage(JsonElement request) =>
        request.GetProperty("messages").EnumerateArray().Last(m => m.GetProperty("role").GetString() == "user").GetProperty("content").GetString()!;
}
