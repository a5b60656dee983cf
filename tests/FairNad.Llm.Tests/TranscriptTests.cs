using System.Text.Json;
using FairNad.Tests.Shared;
using Microsoft.Extensions.AI;

namespace FairNad.Llm.Tests;

/// <summary>Recording and replay: which model answered, when a server is contacted, failures, bounded repairs and the context window.</summary>
public sealed class TranscriptTests : IDisposable
{
    private const string OtherDigest = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
    private static readonly JsonElement Schema = JsonDocument.Parse("""{"type":"object","properties":{"answer":{"type":"integer"}},"required":["answer"]}""").RootElement;
    private static readonly ChatMessage[] Question = [new(ChatRole.System, "Answer with JSON."), new(ChatRole.User, "What is six times seven?")];
    private static readonly ChatMessage[] Another = [new(ChatRole.System, "Answer with JSON."), new(ChatRole.User, "What is two plus two?")];
    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-llm-").FullName;
    private readonly List<string> _log = [];

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private LlmSettings Settings(ScriptedOllamaServer? server, LlmMode mode, string model = "test-model") =>
        new(model, server?.Uri ?? new Uri("http://127.0.0.1:9/"), mode, _directory);

    private static string? NeedsAnswer(JsonElement e) => e.TryGetProperty("answer", out var a) && a.ValueKind == JsonValueKind.Number ? null : "field 'answer' must be a number";

    private Task<LlmSession> Open(LlmSettings settings) => LlmSession.OpenAsync(settings, "test", new LlmRetryPolicy(Time: new InstantTimeProvider()), _log.Add);

    private async Task RecordAsync(params ChatMessage[][] questions)
    {
        using var server = new ScriptedOllamaServer(_ => """{"answer": 42}""");
        using var live = await Open(Settings(server, LlmMode.Live));
        foreach (var question in questions)
        {
            await live.AskJsonAsync("test", question, Schema, NeedsAnswer);
        }
    }

    [Fact]
    public async Task Live_Answer_FileHoldsQuestionOptionsModelAndAnswer()
    {
        await RecordAsync(Question);

        var file = Assert.Single(Directory.GetFiles(_directory, "exchange-*.json"));
        using var document = JsonDocument.Parse(File.ReadAllText(file));
        var root = document.RootElement;
        Assert.Equal(TranscriptStore.FormatVersion, root.GetProperty("version").GetString());
        Assert.Equal(ScriptedOllamaServer.Digest, root.GetProperty("digest").GetString());
        Assert.Equal("What is six times seven?", root.GetProperty("request").GetProperty("messages")[1].GetProperty("text").GetString());
        Assert.Equal(8192, root.GetProperty("request").GetProperty("options").GetProperty("num_ctx").GetInt32());
        Assert.Equal("object", root.GetProperty("request").GetProperty("format").GetProperty("type").GetString());
        Assert.Equal("""{"answer": 42}""", root.GetProperty("answer").GetString());
        Assert.Equal(100, root.GetProperty("promptTokens").GetInt64());
        Assert.Equal(Path.GetFileName(file), $"exchange-{root.GetProperty("key").GetString()}.json");
    }

    [Fact]
    public async Task Replay_AnyModelRecorded_NeverContactsTheServer()
    {
        using (var recording = new ScriptedOllamaServer(_ => """{"answer": 42}""", model: "llama3.1:8b"))
        using (var live = await Open(Settings(recording, LlmMode.Live, "llama3.1:8b")))
        {
            await live.AskJsonAsync("test", Question, Schema, NeedsAnswer);
        }

        using var watching = new ScriptedOllamaServer(_ => """{"answer": 1}""", model: "llama3.1:8b");
        using var replay = await Open(Settings(watching, LlmMode.Replay, "llama3.1:8b"));
        var answer = await replay.AskJsonAsync("test", Question, Schema, NeedsAnswer);

        Assert.Equal(42, answer.GetProperty("answer").GetInt32());
        Assert.Equal(0, watching.Requests);
        Assert.Equal("llama3.1:8b", replay.Model.Name);
        await Assert.ThrowsAsync<LlmReplayMissException>(() => replay.AskJsonAsync("test", Another, Schema, NeedsAnswer));
        Assert.Equal(0, watching.Requests);
    }

    [Fact]
    public async Task Replay_OtherModelThanRecorded_RefusedNamingTheRecordedOne()
    {
        await RecordAsync(Question);

        var error = await Assert.ThrowsAsync<LlmModelChangedException>(() => Open(Settings(null, LlmMode.Replay, "llama3.1:8b")));

        Assert.Contains($"were recorded with test-model:latest ({ScriptedOllamaServer.Digest}), not llama3.1:8b; replay them with --llm-model test-model:latest", error.Message);
    }

    [Fact]
    public async Task Auto_EverythingRecorded_ServerNotContactedAtAll()
    {
        await RecordAsync(Question);
        using var watching = new ScriptedOllamaServer(_ => """{"answer": 1}""");

        using var auto = await Open(Settings(watching, LlmMode.Auto));
        var answer = await auto.AskJsonAsync("test", Question, Schema, NeedsAnswer);

        Assert.Equal(42, answer.GetProperty("answer").GetInt32());
        Assert.Equal(0, watching.Requests);
        Assert.Equal((1, 0, 1), (auto.Ledger.Total.Calls, auto.Ledger.Total.Live, auto.Ledger.Total.Replayed));
    }

    [Fact]
    public async Task Auto_NewQuestionAndTheServersDigestChanged_RefusedNamingBothDigests()
    {
        await RecordAsync(Question);
        using var changed = new ScriptedOllamaServer(_ => """{"answer": 4}""") { ServedDigest = OtherDigest };
        using var auto = await Open(Settings(changed, LlmMode.Auto));

        var error = await Assert.ThrowsAsync<LlmModelChangedException>(() => auto.AskJsonAsync("test", Another, Schema, NeedsAnswer));

        Assert.Contains($"were recorded with test-model:latest ({ScriptedOllamaServer.Digest}), but {changed.Uri} now serves test-model:latest ({OtherDigest})", error.Message);
        Assert.Contains("--llm-allow-model-change", error.Message);
        Assert.Equal(0, changed.ChatCalls);
        Assert.Contains(ScriptedOllamaServer.Digest, File.ReadAllText(Path.Combine(_directory, "model.json")));
        Assert.DoesNotContain(OtherDigest, File.ReadAllText(Path.Combine(_directory, "model.json")));
    }

    [Fact]
    public async Task Live_ServersDigestChanged_RefusedAtOpen()
    {
        await RecordAsync(Question);
        using var changed = new ScriptedOllamaServer(_ => """{"answer": 4}""") { ServedDigest = OtherDigest };

        var error = await Assert.ThrowsAsync<LlmModelChangedException>(() => Open(Settings(changed, LlmMode.Live)));

        Assert.Contains(OtherDigest, error.Message);
    }

    [Fact]
    public async Task Auto_DigestChangeAllowed_OldAnswersReplayedNewOnesAskedAndTheChangeRecorded()
    {
        await RecordAsync(Question);
        using var changed = new ScriptedOllamaServer(_ => """{"answer": 4}""") { ServedDigest = OtherDigest };
        using (var auto = await Open(Settings(changed, LlmMode.Auto) with { AllowModelChange = true }))
        {
            Assert.Equal(42, (await auto.AskJsonAsync("test", Question, Schema, NeedsAnswer)).GetProperty("answer").GetInt32());
            Assert.Equal(4, (await auto.AskJsonAsync("test", Another, Schema, NeedsAnswer)).GetProperty("answer").GetInt32());
            Assert.Equal([ScriptedOllamaServer.Digest], auto.Models.Earlier.Select(m => m.Digest));
            Assert.Equal(OtherDigest, auto.Model.Digest);
        }

        Assert.Equal(1, changed.ChatCalls);
        Assert.Contains(_log, l => l.Contains("LLM model changed", StringComparison.Ordinal));

        // Offline, both answers come back: each from the model that gave it.
        using var replay = await Open(Settings(null, LlmMode.Replay));
        Assert.Equal(42, (await replay.AskJsonAsync("test", Question, Schema, NeedsAnswer)).GetProperty("answer").GetInt32());
        Assert.Equal(4, (await replay.AskJsonAsync("test", Another, Schema, NeedsAnswer)).GetProperty("answer").GetInt32());
    }

    [Fact]
    public async Task RecordFailure_FailedCall_ReplaysAsTheSameFailureOffline()
    {
        string message;
        using (var server = new ScriptedOllamaServer(_ => """{"answer": 42}""") { Faults = (path, call) => call > 0 ? Fault.RunnerKilled : null })
        using (var live = await Open(Settings(server, LlmMode.Auto)))
        {
            message = (await Assert.ThrowsAsync<LlmUnavailableException>(() => live.AskJsonAsync("test", Question, Schema, NeedsAnswer))).Message;
            live.RecordFailure();
            Assert.Equal((1, 1), (live.Ledger.Total.Calls, live.Ledger.Total.Failed));
        }

        using var replay = await Open(Settings(null, LlmMode.Replay));
        var replayed = await Assert.ThrowsAsync<LlmUnavailableException>(() => replay.AskJsonAsync("test", Question, Schema, NeedsAnswer));

        Assert.Equal(message, replayed.Message);
        Assert.Equal((1, 1), (replay.Ledger.Total.Calls, replay.Ledger.Total.Failed));
    }

    [Fact]
    public async Task RecordFailure_NotCalled_FailureAskedAgainNextTime()
    {
        using (var server = new ScriptedOllamaServer(_ => """{"answer": 42}""") { Faults = (path, call) => call > 0 ? Fault.RunnerKilled : null })
        using (var live = await Open(Settings(server, LlmMode.Auto)))
        {
            await Assert.ThrowsAsync<LlmUnavailableException>(() => live.AskJsonAsync("test", Question, Schema, NeedsAnswer));
        }

        Assert.Empty(Directory.GetFiles(_directory, "exchange-*.json"));
        using var healthy = new ScriptedOllamaServer(_ => """{"answer": 42}""");
        using var auto = await Open(Settings(healthy, LlmMode.Auto));
        Assert.Equal(42, (await auto.AskJsonAsync("test", Question, Schema, NeedsAnswer)).GetProperty("answer").GetInt32());
    }

    [Fact]
    public async Task Repair_ThirdAttempt_SendsQuestionLatestAnswerAndProblemsOnly()
    {
        var answers = new Queue<string>(["not json at all", """{"answer": "many"}""", """{"answer": 7}"""]);
        using var server = new ScriptedOllamaServer(_ => answers.Dequeue());
        using var session = await Open(Settings(server, LlmMode.Live));

        await session.AskJsonAsync("test", Question, Schema, NeedsAnswer);

        var third = server.ChatRequests[2].GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal(4, third.Count);
        Assert.Equal(["system", "user", "assistant", "user"], third.Select(m => m.GetProperty("role").GetString()));
        Assert.Equal("""{"answer": "many"}""", third[2].GetProperty("content").GetString());
        var repair = third[3].GetProperty("content").GetString()!;
        Assert.StartsWith("That answer is invalid: field 'answer' must be a number.", repair, StringComparison.Ordinal);
        Assert.Contains("Earlier answers had these problems too: attempt 1: the answer is not valid JSON", repair, StringComparison.Ordinal);
        Assert.DoesNotContain(third, m => m.GetProperty("content").GetString() == "not json at all");
    }

    [Fact]
    public async Task Ask_PromptLongerThanNumCtx_WarnsBeforeSending()
    {
        using var server = new ScriptedOllamaServer(_ => """{"answer": 42}""");
        using var session = await Open(Settings(server, LlmMode.Live) with { ContextLength = 512 });
        ChatMessage[] longQuestion = [new(ChatRole.System, new string('x', 3000)), new(ChatRole.User, "What is six times seven?")];

        await session.AskJsonAsync("test", longQuestion, Schema, NeedsAnswer, answerTokens: 100);

        var warning = Assert.Single(_log, l => l.Contains("more than num_ctx", StringComparison.Ordinal));
        Assert.Contains("the prompt is about 1,024 tokens and the answer about 100, more than num_ctx 512", warning, StringComparison.Ordinal);
        Assert.Contains("--llm-num-ctx", warning, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ask_ServerCountsFillTheContext_WarnsThatItWasCut()
    {
        using var server = new ScriptedOllamaServer(_ => """{"answer": 42}""");
        using var session = await Open(Settings(server, LlmMode.Live) with { ContextLength = 120 });

        await session.AskJsonAsync("test", Question, Schema, NeedsAnswer, answerTokens: 10);

        Assert.Contains(_log, l => l.Contains("the server counted 100 prompt + 20 answer tokens, num_ctx is 120: the prompt or the answer was cut", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Open_TranscriptsOfTheEarlierFormat_ClearError()
    {
        File.WriteAllText(Path.Combine(_directory, "model.json"), """{"Name":"test-model","Digest":"sha256:01"}""");

        var error = await Assert.ThrowsAsync<LlmReplayMissException>(() => Open(Settings(null, LlmMode.Replay)));

        Assert.Contains("written by an earlier FairNad (transcript format fairnad-llm-1", error.Message);
    }

    [Theory]
    [InlineData("auto", "llama3.1:8b", LlmMode.Auto, "llama3.1:8b")]
    [InlineData("replay", "llama3.1:8b", LlmMode.Replay, "llama3.1:8b")]
    [InlineData("live", null, LlmMode.Live, LlmSettings.DefaultModel)]
    [InlineData("ollama:llama3.1:8b", "llama3.1:8b", LlmMode.Auto, "llama3.1:8b")]
    public void Parse_ModeWithLlmModel_AnyCombination(string llm, string? model, LlmMode mode, string expected)
    {
        var settings = LlmSettings.Parse(llm, "t", "localhost", model);

        Assert.Equal((mode, expected), (settings.Mode, settings.Model));
    }

    [Fact]
    public void ResolveModel_TwoDifferentModels_Refused()
    {
        var error = Assert.Throws<ArgumentException>(() => LlmSettings.ResolveModel("ollama:a", "b"));

        Assert.Equal("--llm ollama:a and --llm-model b name different models; give the model once", error.Message);
    }
}
