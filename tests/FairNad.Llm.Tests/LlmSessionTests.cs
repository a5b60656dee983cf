using System.Text.Json;
using FairNad.Tests.Shared;
using Microsoft.Extensions.AI;

namespace FairNad.Llm.Tests;

public sealed class LlmSessionTests : IDisposable
{
    private static readonly JsonElement Schema = JsonDocument.Parse("""{"type":"object","properties":{"answer":{"type":"integer"}},"required":["answer"]}""").RootElement;
    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-llm-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private LlmSettings Settings(ScriptedOllamaServer? server, LlmMode mode) =>
        new("test-model", server?.Uri ?? new Uri("http://127.0.0.1:9/"), mode, _directory);

    private static string? NeedsAnswer(JsonElement e) => e.TryGetProperty("answer", out var a) && a.ValueKind == JsonValueKind.Number ? null : "field 'answer' must be a number";

    private static readonly ChatMessage[] Question = [new(ChatRole.System, "Answer with JSON."), new(ChatRole.User, "What is six times seven?")];

    [Fact]
    public async Task Live_ScriptedServer_SendsDeterministicOptionsAndRecords()
    {
        using var server = new ScriptedOllamaServer(_ => """{"answer": 42}""");
        using var session = await LlmSession.OpenAsync(Settings(server, LlmMode.Live), "test");

        var answer = await session.AskJsonAsync("test", Question, Schema, NeedsAnswer);

        Assert.Equal(42, answer.GetProperty("answer").GetInt32());
        var request = Assert.Single(server.ChatRequests);
        Assert.Equal("test-model", request.GetProperty("model").GetString());
        var options = request.GetProperty("options");
        Assert.Equal(42, options.GetProperty("seed").GetInt32());
        Assert.Equal(0, options.GetProperty("temperature").GetDouble());
        Assert.Equal(1, options.GetProperty("top_k").GetInt32());
        Assert.Equal(8192, options.GetProperty("num_ctx").GetInt32());
        Assert.Equal("object", request.GetProperty("format").GetProperty("type").GetString());
        Assert.Equal(ScriptedOllamaServer.Digest, session.Model.Digest);
        Assert.Single(Directory.GetFiles(_directory, "exchange-*.json"));
        Assert.Equal((1, 1, 100L), (session.Ledger.Entries[0].Calls, session.Ledger.Entries[0].Live, session.Ledger.Entries[0].PromptTokens));
    }

    [Fact]
    public async Task Live_ScriptedModelWithoutItsDesigner_RefusedSayingWhereItWorks()
    {
        var settings = new LlmSettings(LlmSettings.ScriptedModel, new Uri("http://127.0.0.1:9/"), LlmMode.Live, _directory);

        var e = await Assert.ThrowsAsync<LlmUnavailableException>(() => LlmSession.OpenAsync(settings, "Extract"));

        Assert.Contains("answers only the LLM-driven mutation of a search (fairnad search --llm scripted)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseChoice_Scripted_AutoWithTheScriptedModel()
    {
        Assert.Equal((LlmMode.Auto, LlmSettings.ScriptedModel), LlmSettings.ParseChoice("scripted"));
    }

    [Fact]
    public async Task Replay_AfterRecording_SameAnswerWithNoServer()
    {
        using (var server = new ScriptedOllamaServer(_ => """{"answer": 42}"""))
        using (var live = await LlmSession.OpenAsync(Settings(server, LlmMode.Live), "test"))
        {
            await live.AskJsonAsync("test", Question, Schema, NeedsAnswer);
        }

        using var replay = await LlmSession.OpenAsync(Settings(null, LlmMode.Replay), "test");
        var answer = await replay.AskJsonAsync("test", Question, Schema, NeedsAnswer);

        Assert.Equal(42, answer.GetProperty("answer").GetInt32());
        Assert.Equal((1, 0), (replay.Ledger.Entries[0].Calls, replay.Ledger.Entries[0].Live));
        Assert.Equal(ScriptedOllamaServer.Digest, replay.Model.Digest);
    }

    [Fact]
    public async Task Replay_UnrecordedPrompt_MissNamesThePromptHash()
    {
        using (var server = new ScriptedOllamaServer(_ => """{"answer": 42}"""))
        using (var live = await LlmSession.OpenAsync(Settings(server, LlmMode.Live), "test"))
        {
            await live.AskJsonAsync("test", Question, Schema, NeedsAnswer);
        }

        using var replay = await LlmSession.OpenAsync(Settings(null, LlmMode.Replay), "extract");
        ChatMessage[] other = [new(ChatRole.User, "Something never asked")];

        var error = await Assert.ThrowsAsync<LlmReplayMissException>(() => replay.AskJsonAsync("extract", other, Schema, NeedsAnswer));

        Assert.Contains($"no recorded answer for prompt {LlmSession.PromptHash(other)}", error.Message);
    }

    [Fact]
    public async Task Replay_NothingRecorded_SaysSo()
    {
        var error = await Assert.ThrowsAsync<LlmReplayMissException>(() => LlmSession.OpenAsync(Settings(null, LlmMode.Replay), "Extract"));

        Assert.Contains("no recorded transcripts in", error.Message);
    }

    [Fact]
    public async Task Auto_SecondAskIsReplayedWithoutAServerCall()
    {
        using var server = new ScriptedOllamaServer(_ => """{"answer": 42}""");
        using var session = await LlmSession.OpenAsync(Settings(server, LlmMode.Auto), "test");

        await session.AskJsonAsync("test", Question, Schema, NeedsAnswer);
        await session.AskJsonAsync("test", Question, Schema, NeedsAnswer);

        Assert.Single(server.ChatRequests);
        Assert.Equal((2, 1), (session.Ledger.Entries[0].Calls, session.Ledger.Entries[0].Live));
    }

    [Fact]
    public async Task Malformed_ThenValid_RepairedWithTheErrorSentBack()
    {
        var answers = new Queue<string>(["not json at all", """{"answer": "many"}""", """{"answer": 7}"""]);
        using var server = new ScriptedOllamaServer(_ => answers.Dequeue());
        using var session = await LlmSession.OpenAsync(Settings(server, LlmMode.Live), "test");

        var answer = await session.AskJsonAsync("test", Question, Schema, NeedsAnswer);

        Assert.Equal(7, answer.GetProperty("answer").GetInt32());
        Assert.Equal(3, server.ChatRequests.Count);
        Assert.Contains("not valid JSON", ScriptedOllamaServer.LastUserMessage(server.ChatRequests[1]));
        Assert.Contains("field 'answer' must be a number", ScriptedOllamaServer.LastUserMessage(server.ChatRequests[2]));
    }

    [Fact]
    public async Task Malformed_EveryAttempt_FailsListingEachProblem()
    {
        using var server = new ScriptedOllamaServer(_ => "{\"answer\": \"never\"}");
        using var session = await LlmSession.OpenAsync(Settings(server, LlmMode.Live) with { MaxAttempts = 2 }, "test");

        var error = await Assert.ThrowsAsync<LlmOutputException>(() => session.AskJsonAsync("test", Question, Schema, NeedsAnswer));

        Assert.Contains("no valid answer after 2 attempts: attempt 1: field 'answer' must be a number; attempt 2:", error.Message);
    }

    [Fact]
    public async Task Live_ServerDown_ErrorSaysHowToStartIt()
    {
        var error = await Assert.ThrowsAsync<LlmUnavailableException>(() => LlmSession.OpenAsync(Settings(null, LlmMode.Live), "test"));

        Assert.Contains("cannot reach Ollama at http://127.0.0.1:9/", error.Message);
        Assert.Contains("ollama pull test-model", error.Message);
    }

    [Fact]
    public async Task Live_ModelNotPulled_ErrorSaysToPullIt()
    {
        using var server = new ScriptedOllamaServer(_ => "{}", model: "other:latest");

        var error = await Assert.ThrowsAsync<LlmUnavailableException>(() => LlmSession.OpenAsync(Settings(server, LlmMode.Live), "test"));

        Assert.Contains("run `ollama pull test-model`", error.Message);
    }

    [Fact]
    public async Task Off_StageThatNeedsTheLlm_Stops()
    {
        var error = await Assert.ThrowsAsync<LlmDisabledException>(() => LlmSession.OpenAsync(Settings(null, LlmMode.Off), "Extract"));

        Assert.StartsWith("Extract needs an LLM, but the LLM is off", error.Message);
    }

    [Theory]
    [InlineData("ollama:llama3.1:8b", "llama3.1:8b", LlmMode.Auto)]
    [InlineData("replay", LlmSettings.DefaultModel, LlmMode.Replay)]
    [InlineData("off", LlmSettings.DefaultModel, LlmMode.Off)]
    public void Parse_Forms_ModelAndMode(string text, string model, LlmMode mode)
    {
        var settings = LlmSettings.Parse(text, "t", "localhost:11434");

        Assert.Equal((model, mode, "http://localhost:11434/"), (settings.Model, settings.Mode, settings.Server.ToString()));
    }
}
