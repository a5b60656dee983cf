using System.Text.Json;
using FairNad.Tests.Shared;
using Microsoft.Extensions.AI;

namespace FairNad.Llm.Tests;

/// <summary>A real Ollama fails in ways the loopback server scripts here: each ends in one clear line, transient ones after retries.</summary>
public sealed class ServerFailureTests : IDisposable
{
    private static readonly JsonElement Schema = JsonDocument.Parse("""{"type":"object","properties":{"answer":{"type":"integer"}},"required":["answer"]}""").RootElement;
    private static readonly ChatMessage[] Question = [new(ChatRole.User, "What is six times seven?")];
    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-llm-").FullName;
    private readonly InstantTimeProvider _time = new();

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private LlmSettings Settings(ScriptedOllamaServer server) => new("test-model", server.Uri, LlmMode.Live, _directory);

    private LlmRetryPolicy Retry => new(Time: _time);

    private static string? NeedsAnswer(JsonElement e) => e.TryGetProperty("answer", out _) ? null : "field 'answer' is missing";

    private static ScriptedOllamaServer Server() => new(_ => """{"answer": 42}""");

    private async Task<LlmUnavailableException> FailingAsk(ScriptedOllamaServer server, LlmSettings? settings = null)
    {
        using var session = await LlmSession.OpenAsync(settings ?? Settings(server), "test", Retry);
        var error = await Assert.ThrowsAsync<LlmUnavailableException>(() => session.AskJsonAsync("test", Question, Schema, NeedsAnswer));
        Assert.DoesNotContain('\n', error.Message);
        return error;
    }

    [Fact]
    public async Task AskJson_RunnerKilledTwice_RetriedWithSeededBackoffThenAnswered()
    {
        using var server = Server();
        server.Faults = (path, call) => call is 1 or 2 ? Fault.RunnerKilled : null;
        using var session = await LlmSession.OpenAsync(Settings(server), "test", Retry);

        var answer = await session.AskJsonAsync("test", Question, Schema, NeedsAnswer);

        Assert.Equal(42, answer.GetProperty("answer").GetInt32());
        Assert.Equal(3, server.ChatCalls);
        var jitter = new Random(Retry.Seed);
        Assert.Equal([Retry.Delay(0, jitter), Retry.Delay(1, jitter)], _time.Delays);
        Assert.InRange(_time.Delays[0].TotalSeconds, 1, 2);
        Assert.InRange(_time.Delays[1].TotalSeconds, 2, 4);
    }

    [Fact]
    public async Task AskJson_RunnerKilledEveryAttempt_OneLineWithOllamasTextEndpointModelAndAdvice()
    {
        using var server = Server();
        server.Faults = (path, call) => path == "/api/chat" ? Fault.RunnerKilled : null;

        var error = await FailingAsk(server);

        Assert.StartsWith($"Ollama at {server.Uri} failed on POST /api/chat for model test-model: HTTP 500 Internal Server Error: llama runner process has terminated: signal: killed (gave up after 4 attempts); ", error.Message);
        Assert.Contains("check the Ollama server's log", error.Message);
        Assert.Equal(4, server.ChatCalls);
        Assert.Equal(3, _time.Delays.Count);
    }

    [Fact]
    public async Task AskJson_Http500PlainBody_BodyInTheMessage()
    {
        using var server = Server();
        server.Faults = (path, call) => call > 0 ? new Fault(500, "upstream exploded\n", "text/plain") : null;

        var error = await FailingAsk(server);

        Assert.Contains("HTTP 500 Internal Server Error: upstream exploded (gave up after 4 attempts)", error.Message);
    }

    [Fact]
    public async Task AskJson_ModelNotFoundDuringChat_NotRetriedSaysToPull()
    {
        using var server = Server();
        server.Faults = (path, call) => call > 0 ? Fault.ModelNotFound("test-model") : null;

        var error = await FailingAsk(server);

        Assert.Equal(
            $"Ollama at {server.Uri} failed on POST /api/chat for model test-model: HTTP 404 Not Found: model 'test-model' not found; run `ollama pull test-model` on the server, or choose a pulled model with --llm ollama:<model>",
            error.Message);
        Assert.Equal(1, server.ChatCalls);
        Assert.Empty(_time.Delays);
    }

    [Fact]
    public async Task AskJson_HtmlPageWithStatus200_NotRetriedSaysItIsNotOllama()
    {
        using var server = Server();
        server.Faults = (path, call) => call > 0 ? Fault.Html : null;

        var error = await FailingAsk(server);

        Assert.Contains("HTTP 200 answered with text/html, not JSON: <!DOCTYPE html>", error.Message);
        Assert.Contains("does not look like Ollama's API; point OLLAMA_HOST or --ollama-host at the Ollama server", error.Message);
        Assert.Equal(1, server.ChatCalls);
    }

    [Fact]
    public async Task Open_HtmlPage_ClearErrorNamingTheEndpoint()
    {
        using var server = Server();
        server.Faults = (path, call) => Fault.Html;

        var error = await Assert.ThrowsAsync<LlmUnavailableException>(() => LlmSession.OpenAsync(Settings(server), "test", Retry));

        Assert.Contains("failed on GET /api/tags for model test-model: HTTP 200 answered with text/html", error.Message);
    }

    [Fact]
    public async Task AskJson_ConnectionResetOnce_RetriedAndAnswered()
    {
        using var server = Server();
        server.Faults = (path, call) => call == 1 ? Fault.Reset : null;
        using var session = await LlmSession.OpenAsync(Settings(server), "test", Retry);

        var answer = await session.AskJsonAsync("test", Question, Schema, NeedsAnswer);

        Assert.Equal(42, answer.GetProperty("answer").GetInt32());
        Assert.Equal(2, server.ChatCalls);
        Assert.Single(_time.Delays);
    }

    [Fact]
    public async Task AskJson_ServerGoneAfterOpen_RefusedRetriedThenCannotReach()
    {
        var server = Server();
        using var session = await LlmSession.OpenAsync(Settings(server), "test", Retry);
        server.Dispose();

        var error = await Assert.ThrowsAsync<LlmUnavailableException>(() => session.AskJsonAsync("test", Question, Schema, NeedsAnswer));

        Assert.StartsWith($"cannot reach Ollama at {server.Uri} (", error.Message);
        Assert.Contains("on POST /api/chat for model test-model (gave up after 4 attempts); start it (`ollama serve`, `ollama pull test-model`)", error.Message);
        Assert.Equal(3, _time.Delays.Count);
    }

    [Fact]
    public async Task AskJson_SlowerThanTheTimeout_RetriedAsTransient()
    {
        using var server = Server();
        server.Faults = (path, call) => call == 1 ? new Fault(200, "{}", Delay: TimeSpan.FromSeconds(5)) : null;
        using var session = await LlmSession.OpenAsync(Settings(server) with { TimeoutSeconds = 0.3 }, "test", Retry);

        var answer = await session.AskJsonAsync("test", Question, Schema, NeedsAnswer);

        Assert.Equal(42, answer.GetProperty("answer").GetInt32());
        Assert.Equal(2, server.ChatCalls);
    }

    [Fact]
    public async Task AskJson_AlwaysSlowerThanTheTimeout_SaysHowToRaiseIt()
    {
        using var server = Server();
        server.Faults = (path, call) => call > 0 ? new Fault(200, "{}", Delay: TimeSpan.FromSeconds(5)) : null;

        var error = await FailingAsk(server, Settings(server) with { TimeoutSeconds = 0.2 });

        Assert.Contains("failed on POST /api/chat for model test-model: no answer within 0.2 s (gave up after 4 attempts); ", error.Message);
        Assert.Contains("raise --llm-timeout (or FAIRNAD_LLM_TIMEOUT", error.Message);
    }

    [Fact]
    public async Task AskJson_UserCancels_CancellationNotTimeoutNorRetry()
    {
        using var server = Server();
        server.Faults = (path, call) => call > 0 ? new Fault(200, "{}", Delay: TimeSpan.FromSeconds(5)) : null;
        using var session = await LlmSession.OpenAsync(Settings(server), "test", Retry);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => session.AskJsonAsync("test", Question, Schema, NeedsAnswer, cancel.Token));

        Assert.Equal(1, server.ChatCalls);
        Assert.Empty(_time.Delays);
    }

    [Fact]
    public void Delay_SameSeed_SameScheduleDoublingWithJitter()
    {
        var policy = new LlmRetryPolicy(Seed: 7);
        TimeSpan[] Schedule() => [.. Enumerable.Range(0, 3).Select(new Func<Random, Func<int, TimeSpan>>(r => i => policy.Delay(i, r))(new Random(7)))];

        var first = Schedule();

        Assert.Equal(first, Schedule());
        Assert.All(first.Select((d, i) => (d, i)), x => Assert.InRange(x.d.TotalSeconds, 2 * Math.Pow(2, x.i) * 0.5, 2 * Math.Pow(2, x.i)));
    }

    [Fact]
    public void ResolveTimeout_OptionThenEnvironmentThenDefault_BadValuesNamed()
    {
        var before = Environment.GetEnvironmentVariable(LlmSettings.TimeoutVariable);
        try
        {
            Environment.SetEnvironmentVariable(LlmSettings.TimeoutVariable, null);
            Assert.Equal(LlmSettings.DefaultTimeoutSeconds, LlmSettings.ResolveTimeout(null));
            Assert.Equal(90, LlmSettings.ResolveTimeout(90));

            Environment.SetEnvironmentVariable(LlmSettings.TimeoutVariable, "900");
            Assert.Equal(900, LlmSettings.ResolveTimeout(null));
            Assert.Equal(90, LlmSettings.ResolveTimeout(90));

            Environment.SetEnvironmentVariable(LlmSettings.TimeoutVariable, "ten minutes");
            Assert.Equal("FAIRNAD_LLM_TIMEOUT must be a number of seconds, not 'ten minutes'", Assert.Throws<ArgumentException>(() => LlmSettings.ResolveTimeout(null)).Message);
            Environment.SetEnvironmentVariable(LlmSettings.TimeoutVariable, "-5");
            Assert.Equal("FAIRNAD_LLM_TIMEOUT must be a number of seconds above 0 and at most 86400 (a day), not -5", Assert.Throws<ArgumentException>(() => LlmSettings.ResolveTimeout(null)).Message);
            Assert.StartsWith("--llm-timeout must be a number of seconds above 0", Assert.Throws<ArgumentException>(() => LlmSettings.ResolveTimeout(0)).Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable(LlmSettings.TimeoutVariable, before);
        }
    }

    [Fact]
    public void ResolveStallTimeout_OptionThenEnvironmentThenDefault_BadValuesNamed()
    {
        var before = (Environment.GetEnvironmentVariable(LlmSettings.StallTimeoutVariable), Environment.GetEnvironmentVariable(LlmSettings.TimeoutVariable));
        try
        {
            Environment.SetEnvironmentVariable(LlmSettings.StallTimeoutVariable, null);
            Environment.SetEnvironmentVariable(LlmSettings.TimeoutVariable, null);
            Assert.Equal(300, LlmSettings.ResolveStallTimeout(null, 1800));
            Assert.Equal(60, LlmSettings.ResolveStallTimeout(60, 1800));
            Assert.Equal(120, LlmSettings.ResolveStallTimeout(null, 120));

            Environment.SetEnvironmentVariable(LlmSettings.StallTimeoutVariable, "600");
            Assert.Equal(600, LlmSettings.ResolveStallTimeout(null, 1800));
            Assert.Equal(60, LlmSettings.ResolveStallTimeout(60, 1800, "llm.stallTimeoutSeconds"));

            Environment.SetEnvironmentVariable(LlmSettings.StallTimeoutVariable, "soon");
            Assert.Equal("FAIRNAD_LLM_STALL_TIMEOUT must be a number of seconds, not 'soon'", Assert.Throws<ArgumentException>(() => LlmSettings.ResolveStallTimeout(null, 1800)).Message);
            Environment.SetEnvironmentVariable(LlmSettings.StallTimeoutVariable, "-5");
            Assert.Equal("FAIRNAD_LLM_STALL_TIMEOUT must be a number of seconds above 0 and at most 86400 (a day), not -5", Assert.Throws<ArgumentException>(() => LlmSettings.ResolveStallTimeout(null, 1800)).Message);
            Assert.StartsWith("--llm-stall-timeout must be a number of seconds above 0", Assert.Throws<ArgumentException>(() => LlmSettings.ResolveStallTimeout(0, 1800)).Message);
            Assert.StartsWith("llm.stallTimeoutSeconds must be a number of seconds above 0", Assert.Throws<ArgumentException>(() => LlmSettings.ResolveStallTimeout(double.NaN, 1800, "llm.stallTimeoutSeconds")).Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable(LlmSettings.StallTimeoutVariable, before.Item1);
            Environment.SetEnvironmentVariable(LlmSettings.TimeoutVariable, before.Item2);
        }
    }

    [Fact]
    public void ResolveStallTimeout_LongerThanTheRequestTimeout_ErrorNamesBoth()
    {
        var before = (Environment.GetEnvironmentVariable(LlmSettings.StallTimeoutVariable), Environment.GetEnvironmentVariable(LlmSettings.TimeoutVariable));
        try
        {
            Environment.SetEnvironmentVariable(LlmSettings.StallTimeoutVariable, null);
            Environment.SetEnvironmentVariable(LlmSettings.TimeoutVariable, null);
            Assert.Equal(
                "--llm-stall-timeout (600 s) must not exceed the request timeout (120 s, from --llm-timeout): the stall timeout bounds the wait for each chunk of an answer, the request timeout the whole answer",
                Assert.Throws<ArgumentException>(() => LlmSettings.ResolveStallTimeout(600, 120, "--llm-stall-timeout", "--llm-timeout")).Message);
            Assert.StartsWith("llm.stallTimeoutSeconds (2000 s) must not exceed the request timeout (1800 s, the default): ",
                Assert.Throws<ArgumentException>(() => LlmSettings.ResolveStallTimeout(2000, 1800, "llm.stallTimeoutSeconds")).Message);
            Assert.Equal(120, LlmSettings.ResolveStallTimeout(120, 120));

            Environment.SetEnvironmentVariable(LlmSettings.StallTimeoutVariable, "900");
            Environment.SetEnvironmentVariable(LlmSettings.TimeoutVariable, "600");
            Assert.StartsWith("FAIRNAD_LLM_STALL_TIMEOUT (900 s) must not exceed the request timeout (600 s, from FAIRNAD_LLM_TIMEOUT): ",
                Assert.Throws<ArgumentException>(() => LlmSettings.ResolveStallTimeout(null, LlmSettings.ResolveTimeout(null))).Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable(LlmSettings.StallTimeoutVariable, before.Item1);
            Environment.SetEnvironmentVariable(LlmSettings.TimeoutVariable, before.Item2);
        }
    }
}
