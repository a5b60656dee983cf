using System.Text;
using System.Text.Json;
using FairNad.Tests.Shared;
using Microsoft.Extensions.AI;

namespace FairNad.Llm.Tests;

/// <summary>
/// Answers are streamed under the hood: a slow model that keeps writing is waited for, a silent server is caught by the
/// stall timeout, and what OllamaSharp, the cache and the transcripts see is the answer Ollama gives without streaming.
/// Timeouts here are short, with wide margins, so a loaded machine does not make them flaky.
/// </summary>
public sealed class StreamingTests : IDisposable
{
    private static readonly JsonElement Schema = JsonDocument.Parse("""{"type":"object","properties":{"answer":{"type":"integer"}},"required":["answer"]}""").RootElement;
    private static readonly ChatMessage[] Question = [new(ChatRole.User, "What is six times seven?")];

    /// <summary>Quotes, non-ASCII letters and a character outside the BMP, so joining chunks and escaping are both exercised.</summary>
    private const string Answer = """{"answer": 42, "why": "six \"times\" seven — quarante-deux 🎉, and a longer tail so the answer splits into many chunks"}""";

    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-llm-").FullName;
    private readonly InstantTimeProvider _time = new();

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private LlmSettings Settings(ScriptedOllamaServer server, double stall, double total, string? directory = null) =>
        new("test-model", server.Uri, LlmMode.Live, directory ?? _directory, TimeoutSeconds: total, StallTimeoutSeconds: stall);

    private LlmRetryPolicy Retry => new(Time: _time);

    private static string? NeedsAnswer(JsonElement e) => e.TryGetProperty("answer", out _) ? null : "field 'answer' is missing";

    private static ScriptedOllamaServer Server() => new(_ => Answer);

    private async Task<LlmUnavailableException> FailingAsk(ScriptedOllamaServer server, LlmSettings settings, LlmRetryPolicy? retry = null)
    {
        using var session = await LlmSession.OpenAsync(settings, "test", retry ?? Retry);
        var error = await Assert.ThrowsAsync<LlmUnavailableException>(() => session.AskJsonAsync("test", Question, Schema, NeedsAnswer));
        Assert.DoesNotContain('\n', error.Message);
        return error;
    }

    [Fact]
    public async Task AskJson_SlowButAliveLongerThanTheStallTimeout_AnsweredOnceAsIfNotStreamed()
    {
        using var server = Server();
        // 31 lines 0.1 s apart: about 3 s in all, twice the stall timeout, with never more than 0.1 s between two of them.
        server.Streams = _ => new StreamScript(ChunkDelay: TimeSpan.FromSeconds(0.1), Chunks: 30);
        using var session = await LlmSession.OpenAsync(Settings(server, stall: 1.5, total: 60), "test", Retry);

        var answer = await session.AskJsonAsync("test", Question, Schema, NeedsAnswer);

        Assert.Equal(JsonDocument.Parse(Answer).RootElement.GetRawText(), answer.GetRawText());
        Assert.Equal(1, server.ChatCalls);
        Assert.True(Assert.Single(server.ChatRequests).GetProperty("stream").GetBoolean());
        Assert.Empty(_time.Delays);
        var ledger = Assert.Single(session.Ledger.Entries);
        Assert.Equal((1, 100L, 20L), (ledger.Live, ledger.PromptTokens, ledger.CompletionTokens));
        Assert.True(ledger.Seconds > 1.5, $"the answer took {ledger.Seconds} s, not longer than the stall timeout");
    }

    [Fact]
    public async Task Send_NonStreamedChatRequest_SentStreamedAndAnsweredWithTheJsonOfANonStreamingServer()
    {
        using var streaming = Server();
        using var plain = Server();
        plain.Streaming = false;
        var body = """{"model":"test-model","messages":[{"role":"user","content":"What is six times seven?"}],"stream":false,"options":{"seed":42}}""";

        async Task<(string Body, string? Type)> Post(ScriptedOllamaServer server)
        {
            using var http = new HttpClient(new OllamaRequestHandler(Settings(server, stall: 5, total: 30), Retry, new SocketsHttpHandler())) { BaseAddress = server.Uri };
            using var response = await http.PostAsync("api/chat", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            return ((await response.Content.ReadAsStringAsync()).TrimEnd('\n'), response.Content.Headers.ContentType?.MediaType);
        }

        var streamed = await Post(streaming);
        var whole = await Post(plain);

        Assert.Equal(whole, streamed);
        Assert.Equal("application/json", streamed.Type);
        Assert.Equal(Answer, JsonDocument.Parse(streamed.Body).RootElement.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(body.Replace("\"stream\":false", "\"stream\":true", StringComparison.Ordinal), Assert.Single(streaming.ChatRequests).GetRawText());
    }

    [Theory]
    [InlineData("""{"model":"m","stream":false,"options":{"seed":1}}""", """{"model":"m","stream":true,"options":{"seed":1}}""")]
    [InlineData("""{ "options": { "stream": false }, "stream" : false }""", """{ "options": { "stream": false }, "stream" : true }""")]
    [InlineData("""{"model":"m","messages":[]}""", """{"stream":true,"model":"m","messages":[]}""")]
    [InlineData("""{}""", """{"stream":true}""")]
    [InlineData("""{"model":"m","stream":true}""", null)]
    [InlineData("""not json""", null)]
    [InlineData("""[1, 2]""", null)]
    public void StreamingBody_StreamFalseOrMissing_OnlyTheStreamFieldChanges(string body, string? expected)
    {
        var rewritten = OllamaRequestHandler.StreamingBody(Encoding.UTF8.GetBytes(body));

        Assert.Equal(expected, rewritten is null ? null : Encoding.UTF8.GetString(rewritten));
    }

    [Fact]
    public async Task AskJson_ServerStallsBeforeTheFirstChunkOnce_RetriedAndAnswered()
    {
        using var server = Server();
        server.Streams = call => call == 1 ? new StreamScript(StallAfter: 0) : null;
        using var session = await LlmSession.OpenAsync(Settings(server, stall: 0.5, total: 30), "test", Retry);

        var answer = await session.AskJsonAsync("test", Question, Schema, NeedsAnswer);

        Assert.Equal(42, answer.GetProperty("answer").GetInt32());
        Assert.Equal(2, server.ChatCalls);
        Assert.Single(_time.Delays);
    }

    [Fact]
    public async Task AskJson_StreamStallsEveryAttempt_RetriedThenOneLineNamingTheStallTimeout()
    {
        using var server = Server();
        server.Streams = _ => new StreamScript(StallAfter: 2, StallFor: TimeSpan.FromSeconds(30));

        var error = await FailingAsk(server, Settings(server, stall: 0.5, total: 30));

        Assert.StartsWith(
            $"Ollama at {server.Uri} failed on POST /api/chat for model test-model: no new data for 0.5 s (stall timeout; the answer had 2 chunks so far) (gave up after 4 attempts); ",
            error.Message);
        Assert.Contains("raise --llm-stall-timeout (or FAIRNAD_LLM_STALL_TIMEOUT, or llm.stallTimeoutSeconds in the experiment)", error.Message);
        Assert.Equal(4, server.ChatCalls);
        Assert.Equal(3, _time.Delays.Count);
    }

    [Fact]
    public async Task AskJson_ChunksStillFlowingAtTheTotalTimeout_FailsSayingTheModelIsAliveButSlow()
    {
        using var server = Server();
        // 100 lines 0.1 s apart would take 10 s; the total is 1 s, the stall timeout eight times the gap between lines.
        server.Streams = _ => new StreamScript(ChunkDelay: TimeSpan.FromSeconds(0.1), Chunks: 99);

        var error = await FailingAsk(server, Settings(server, stall: 0.8, total: 1), new LlmRetryPolicy(MaxAttempts: 2, Time: _time));

        Assert.StartsWith($"Ollama at {server.Uri} failed on POST /api/chat for model test-model: no complete answer within 1 s (", error.Message);
        Assert.Contains(" chunks received; the model is alive but slow) (gave up after 2 attempts); ", error.Message);
        Assert.Contains("raise --llm-timeout (or FAIRNAD_LLM_TIMEOUT, or llm.timeoutSeconds in the experiment)", error.Message);
        Assert.Equal(2, server.ChatCalls);
    }

    [Fact]
    public async Task AskJson_StreamCutBeforeDoneOnce_RetriedAndAnswered()
    {
        using var server = Server();
        server.Streams = call => call == 1 ? new StreamScript(CutAfter: 2) : null;
        using var session = await LlmSession.OpenAsync(Settings(server, stall: 5, total: 30), "test", Retry);

        var answer = await session.AskJsonAsync("test", Question, Schema, NeedsAnswer);

        Assert.Equal(42, answer.GetProperty("answer").GetInt32());
        Assert.Equal(2, server.ChatCalls);
        Assert.Single(_time.Delays);
    }

    [Fact]
    public async Task AskJson_StreamCutBeforeDoneEveryAttempt_SaysTheAnswerEndedEarly()
    {
        using var server = Server();
        server.Streams = _ => new StreamScript(CutAfter: 3);

        var error = await FailingAsk(server, Settings(server, stall: 5, total: 30));

        Assert.StartsWith(
            $"Ollama at {server.Uri} failed on POST /api/chat for model test-model: the answer ended before it was complete (3 chunks, none marked done) (gave up after 4 attempts); ",
            error.Message);
        Assert.Equal(4, server.ChatCalls);
    }

    [Fact]
    public async Task AskJson_RunnerKilledMidStreamOnce_RetriedAndAnswered()
    {
        using var server = Server();
        server.Streams = call => call == 1 ? new StreamScript(ErrorAfter: 2) : null;
        using var session = await LlmSession.OpenAsync(Settings(server, stall: 5, total: 30), "test", Retry);

        var answer = await session.AskJsonAsync("test", Question, Schema, NeedsAnswer);

        Assert.Equal(42, answer.GetProperty("answer").GetInt32());
        Assert.Equal(2, server.ChatCalls);
    }

    [Fact]
    public async Task AskJson_OtherErrorLineMidStream_NotRetriedOllamasTextInOneLine()
    {
        using var server = Server();
        server.Streams = _ => new StreamScript(ErrorAfter: 1, Error: "context window exceeded");

        var error = await FailingAsk(server, Settings(server, stall: 5, total: 30));

        Assert.StartsWith($"Ollama at {server.Uri} failed on POST /api/chat for model test-model: the answer ended in an error: context window exceeded; ", error.Message);
        Assert.Equal(1, server.ChatCalls);
        Assert.Empty(_time.Delays);
    }

    [Fact]
    public async Task AskJson_UserCancelsDuringAStall_CancellationNotTimeoutNorRetry()
    {
        using var server = Server();
        server.Streams = _ => new StreamScript(StallAfter: 1);
        using var session = await LlmSession.OpenAsync(Settings(server, stall: 30, total: 60), "test", Retry);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => session.AskJsonAsync("test", Question, Schema, NeedsAnswer, cancel.Token));

        Assert.Equal(1, server.ChatCalls);
        Assert.Empty(_time.Delays);
    }

    [Fact]
    public async Task Live_StreamingAndNonStreamingServers_RecordIdenticalTranscripts()
    {
        async Task<Dictionary<string, string>> Record(bool streaming, string name)
        {
            var directory = Path.Combine(_directory, name);
            using var server = Server();
            server.Streaming = streaming;
            using (var session = await LlmSession.OpenAsync(Settings(server, stall: 5, total: 30, directory), "test", Retry))
            {
                await session.AskJsonAsync("test", Question, Schema, NeedsAnswer);
            }

            return Directory.GetFiles(directory).ToDictionary(f => Path.GetFileName(f), File.ReadAllText);
        }

        var streamed = await Record(streaming: true, "streamed");
        var whole = await Record(streaming: false, "whole");

        Assert.Contains(streamed.Keys, k => k.StartsWith("exchange-", StringComparison.Ordinal));
        Assert.Equal(whole, streamed);
    }
}
