using System.Text.Json;
using FairNad.Architecture;
using FairNad.Architecture.Transforms;
using FairNad.Search;
using FairNad.Tests.Shared;

namespace FairNad.Experiments.Tests;

/// <summary>LLM-driven mutation end to end: the search talks to a loopback server speaking Ollama's API.</summary>
public sealed class LlmMutationTests : IDisposable
{
    private readonly SearchFixture _a = new();
    private readonly SearchFixture _b = new();

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    /// <summary>
    /// The scripted designer: its first answer in a conversation uses an operator that does not exist; after the repair
    /// message it answers with the parent from the prompt, its activation swapped (or dropout added to the head).
    /// </summary>
    private static string Designer(JsonElement request)
    {
        var messages = request.GetProperty("messages").EnumerateArray().ToList();
        var first = messages.First(m => m.GetProperty("role").GetString() == "user").GetProperty("content").GetString()!;
        var json = first[(first.IndexOf("```json\n", StringComparison.Ordinal) + 8)..];
        var parent = SpecJson.Read(json[..json.IndexOf("```", StringComparison.Ordinal)], "prompt");
        if (messages.Count <= 2)
        {
            var broken = parent with { Block = parent.Block with { Nodes = [.. parent.Block.Nodes.Take(1).Select(n => n with { Op = "warp_drive" }), .. parent.Block.Nodes.Skip(1)] } };
            return JsonSerializer.Serialize(new { summary = "tried a new operator", architecture = JsonDocument.Parse(SpecJson.Write(broken)).RootElement });
        }

        foreach (var (transform, value) in new[] { ("swap_activation", "gelu"), ("swap_activation", "silu"), ("head_dropout", "0.3") })
        {
            try
            {
                var parameters = transform == "swap_activation"
                    ? new Dictionary<string, ParamValue> { ["fn"] = value }
                    : new Dictionary<string, ParamValue> { ["p"] = double.Parse(value, System.Globalization.CultureInfo.InvariantCulture) };
                var child = SpecTransforms.Apply(transform, parent, parameters).Spec;
                return JsonSerializer.Serialize(new { summary = $"{transform} {value}", architecture = JsonDocument.Parse(SpecJson.Write(child)).RootElement });
            }
            catch (TransformNotApplicableException)
            {
            }
        }

        return "{}";
    }

    private static ExperimentOverrides LlmOnly(string mode) => new(LlmMode: mode, LlmModel: "test-model");

    [Fact]
    public void Run_LlmDrivenMutation_RepairedRecordedAndReplayable()
    {
        var experiment = SearchFixture.Tiny with { Mutation = new MutationMix(0, 0, 1), Candidates = 7, Llm = new LlmOptions("auto", "test-model", 3) };
        _a.Write(experiment);
        _b.Write(experiment);
        SearchOutcome live;
        List<JsonElement> requests;
        using (var server = new ScriptedOllamaServer(Designer))
        {
            live = SearchFixture.Run(_a.Request(LlmOnly("auto"), llmServer: server.Uri.ToString())).Single();
            requests = server.ChatRequests;
        }

        var mutated = live.Candidates.Where(c => c.MutationType == MutationTypes.Llm).ToList();
        Assert.Equal(3, mutated.Count);
        Assert.All(mutated, c => Assert.Matches("^[0-9a-f]{16}$", c.Transcript!));
        // Every mutation took two answers (the broken one, then the repair); a repaired child that was already seen is a duplicate, not a candidate.
        Assert.Equal(0, requests.Count % 2);
        Assert.True(requests.Count >= 2 * mutated.Count, $"{requests.Count} requests for {mutated.Count} LLM candidates");
        var repair = requests[1].GetProperty("messages").EnumerateArray().Last().GetProperty("content").GetString()!;
        Assert.Contains("That answer is invalid", repair, StringComparison.Ordinal);
        Assert.Contains("warp_drive", repair, StringComparison.Ordinal);
        Assert.Contains("test-model", File.ReadAllText(Path.Combine(live.RunDirectory, "manifest.json")), StringComparison.Ordinal);

        // The recorded exchanges replay the run with no server at all.
        CopyDirectory(Path.Combine(live.RunDirectory, "llm"), Path.Combine(_b.Results, live.Run, "llm"));
        var replayed = SearchFixture.Run(_b.Request(LlmOnly("replay"))).Single();

        Assert.Equal(SearchFixture.Fingerprint(live.Candidates), SearchFixture.Fingerprint(replayed.Candidates));
    }

    [Fact]
    public void Run_LlmNeverValid_MutationRecordedAsFailedAndRunEnds()
    {
        var experiment = SearchFixture.Tiny with { Mutation = new MutationMix(0, 0, 1), Candidates = 6, Llm = new LlmOptions("auto", "test-model", 3) };
        _a.Write(experiment);
        using var server = new ScriptedOllamaServer(_ => """{"summary": "nothing", "architecture": {"input": 3}}""");

        var outcome = SearchFixture.Run(_a.Request(LlmOnly("auto"), llmServer: server.Uri.ToString())).Single();

        Assert.Equal(4, outcome.Candidates.Count);
        Assert.Equal("the strategy has nothing more to propose", outcome.StopReason);
        Assert.NotEmpty(outcome.FailedMutations);
        Assert.All(outcome.FailedMutations, f => Assert.Contains("no valid answer after 3 attempts", f.Reason, StringComparison.Ordinal));
        Assert.Equal(outcome.FailedMutations.Count, outcome.Feedback!.ByCategory().Sum(s => s.Failures.GetValueOrDefault("llm-invalid")));
    }

    [Fact]
    public void Run_LlmUnreachable_ClearErrorBeforeAnyCandidate()
    {
        _a.Write(SearchFixture.Tiny with { Mutation = new MutationMix(0.5, 0, 0.5) });

        var e = Assert.ThrowsAny<Exception>(() => SearchFixture.Run(_a.Request(LlmOnly("live"), llmServer: "http://127.0.0.1:9")));

        Assert.IsType<FairNad.Llm.LlmUnavailableException>(e);
        Assert.False(File.Exists(Path.Combine(_a.Results, "tiny-fairnad-s0", "journal.jsonl")));
    }

    [Fact]
    public void Run_LlmServerFailsOneCallAfterRetries_RecordedAsFailedMutationAndRunGoesOn()
    {
        var experiment = SearchFixture.Tiny with { Mutation = new MutationMix(0, 0, 1), Candidates = 7, Llm = new LlmOptions("auto", "test-model", 3) };
        _a.Write(experiment);
        var time = new InstantTimeProvider();
        using var server = new ScriptedOllamaServer(Designer) { Faults = (path, call) => call is >= 1 and <= 4 ? Fault.RunnerKilled : null };

        var outcome = SearchFixture.Run(_a.Request(LlmOnly("auto"), llmServer: server.Uri.ToString()) with { LlmRetry = new FairNad.Llm.LlmRetryPolicy(Time: time) }).Single();

        Assert.Equal(7, outcome.Candidates.Count);
        var failed = Assert.Single(outcome.FailedMutations, f => f.Reason.Contains("the LLM server failed", StringComparison.Ordinal));
        Assert.Contains($"Ollama at {server.Uri} failed on POST /api/chat for model test-model: HTTP 500 Internal Server Error: llama runner process has terminated: signal: killed (gave up after 4 attempts)", failed.Reason, StringComparison.Ordinal);
        Assert.Equal(3, time.Delays.Count);
        Assert.Equal(0, outcome.Feedback!.ByCategory().Sum(s => s.Failures.GetValueOrDefault("llm-invalid")));
    }

    [Fact]
    public void Run_LlmServerStaysDown_StopsAsInfrastructureFailureThenResumes()
    {
        var experiment = SearchFixture.Tiny with { Mutation = new MutationMix(0, 0, 1), Candidates = 7, Llm = new LlmOptions("auto", "test-model", 3) };
        _a.Write(experiment);
        var retry = new FairNad.Llm.LlmRetryPolicy(Time: new InstantTimeProvider());
        using var server = new ScriptedOllamaServer(Designer) { Faults = (path, call) => call > 0 ? Fault.RunnerKilled : null };

        var e = Assert.Throws<InfrastructureFailureException>(() => SearchFixture.Run(_a.Request(LlmOnly("auto"), llmServer: server.Uri.ToString()) with { LlmRetry = retry }));

        Assert.StartsWith($"the LLM server failed 3 calls in a row, each after its retries; the last: Ollama at {server.Uri} failed on POST /api/chat for model test-model: HTTP 500", e.Message, StringComparison.Ordinal);
        Assert.Equal(3 * 4, server.ChatCalls);

        server.Faults = null;
        var resumed = SearchFixture.Run(_a.Request(LlmOnly("auto"), resume: "tiny-fairnad-s0", llmServer: server.Uri.ToString()) with { LlmRetry = retry }).Single();

        Assert.Equal(7, resumed.Candidates.Count);
        Assert.Equal(3, resumed.Candidates.Count(c => c.MutationType == MutationTypes.Llm));
    }

    [Fact]
    public void Run_LlmSlowerThanLlmTimeout_FailedMutationNotAnInterruption()
    {
        var experiment = SearchFixture.Tiny with { Mutation = new MutationMix(0, 0, 1), Candidates = 7, Llm = new LlmOptions("auto", "test-model", 3, TimeoutSeconds: 600) };
        _a.Write(experiment);
        using var server = new ScriptedOllamaServer(Designer) { Faults = (path, call) => call is >= 1 and <= 4 ? new Fault(200, "{}", Delay: TimeSpan.FromSeconds(3)) : null };
        var request = _a.Request(LlmOnly("auto") with { LlmTimeout = 0.2 }, llmServer: server.Uri.ToString()) with { LlmRetry = new FairNad.Llm.LlmRetryPolicy(Time: new InstantTimeProvider()) };

        var outcome = SearchFixture.Run(request).Single();

        Assert.Equal(7, outcome.Candidates.Count);
        var failed = Assert.Single(outcome.FailedMutations, f => f.Reason.Contains("the LLM server failed", StringComparison.Ordinal));
        Assert.Contains("failed on POST /api/chat for model test-model: no answer within 0.2 s (gave up after 4 attempts); a 7B model on a CPU can take minutes per answer: raise --llm-timeout", failed.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_LlmFailureRecordedAsFailedMutation_ReplaysOfflineToTheSameRunAndLedgerRecorded()
    {
        var experiment = SearchFixture.Tiny with { Mutation = new MutationMix(0, 0, 1), Candidates = 7, Llm = new LlmOptions("auto", "test-model", 3) };
        _a.Write(experiment);
        _b.Write(experiment);
        SearchOutcome live;
        using (var server = new ScriptedOllamaServer(Designer) { Faults = (path, call) => call is >= 1 and <= 4 ? Fault.RunnerKilled : null })
        {
            live = SearchFixture.Run(_a.Request(LlmOnly("auto"), llmServer: server.Uri.ToString()) with { LlmRetry = new FairNad.Llm.LlmRetryPolicy(Time: new InstantTimeProvider()) }).Single();
        }

        CopyDirectory(Path.Combine(live.RunDirectory, "llm"), Path.Combine(_b.Results, live.Run, "llm"));
        var replayed = SearchFixture.Run(_b.Request(LlmOnly("replay"))).Single();

        Assert.Equal(SearchFixture.Fingerprint(live.Candidates), SearchFixture.Fingerprint(replayed.Candidates));
        Assert.Equal(live.FailedMutations.Select(f => f.Reason), replayed.FailedMutations.Select(f => f.Reason));
        Assert.Contains(replayed.FailedMutations, f => f.Reason.Contains("runner process has terminated", StringComparison.Ordinal));
        var use = JsonDocument.Parse(File.ReadAllText(Path.Combine(live.RunDirectory, "manifest.json"))).RootElement.GetProperty("llm").GetProperty("use");
        var mutate = Assert.Single(Assert.Single(use.EnumerateArray()).EnumerateArray());
        Assert.Equal(("mutate", 1), (mutate.GetProperty("stage").GetString(), mutate.GetProperty("failed").GetInt32()));
        Assert.Equal(mutate.GetProperty("calls").GetInt32(), mutate.GetProperty("live").GetInt32() + 1);
        var summary = File.ReadAllText(Path.Combine(live.RunDirectory, "summary.md"));
        Assert.Contains("## LLM use", summary, StringComparison.Ordinal);
        var replayedUse = Assert.Single(replayed.LlmUse!);
        Assert.Equal((0, 0L, 1), (replayedUse.Live, replayedUse.PromptTokens, replayedUse.Failed));
    }

    [Fact]
    public void Resume_WithLlmReplay_AnswersFromTheRunsTranscriptsWithoutAServer()
    {
        var experiment = SearchFixture.Tiny with { Mutation = new MutationMix(0, 0, 1), Candidates = 7, Llm = new LlmOptions("auto", "test-model", 3) };
        _a.Write(experiment);
        SearchOutcome live;
        using (var server = new ScriptedOllamaServer(Designer))
        {
            live = SearchFixture.Run(_a.Request(LlmOnly("auto"), llmServer: server.Uri.ToString())).Single();
        }

        using var watching = new ScriptedOllamaServer(Designer);
        var resumed = SearchFixture.Run(_a.Request(LlmOnly("replay"), resume: live.Run, llmServer: watching.Uri.ToString())).Single();

        Assert.Equal(0, watching.Requests);
        Assert.Equal(SearchFixture.Fingerprint(live.Candidates), SearchFixture.Fingerprint(resumed.Candidates));

        // The manifest keeps one ledger per session; the summed one counts the first session's live calls once.
        var sessions = JsonDocument.Parse(File.ReadAllText(Path.Combine(live.RunDirectory, "manifest.json"))).RootElement.GetProperty("llm").GetProperty("use").EnumerateArray().ToList();
        Assert.Equal(2, sessions.Count);
        var second = Assert.Single(sessions[1].EnumerateArray());
        Assert.Equal(0, second.GetProperty("live").GetInt32());
        Assert.Equal(second.GetProperty("calls").GetInt32(), second.GetProperty("replayed").GetInt32());
        var total = Assert.Single(resumed.LlmUse!);
        Assert.Equal((total.Live, total.Replayed), (Assert.Single(live.LlmUse!).Live, second.GetProperty("replayed").GetInt32()));
    }

    [Fact]
    public void Resume_ServersModelChanged_RefusedNamingBothDigestsThenAllowedAndRecordedInTheManifest()
    {
        const string changedDigest = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
        var experiment = SearchFixture.Tiny with { Mutation = new MutationMix(0, 0, 1), Candidates = 7, Llm = new LlmOptions("auto", "test-model", 3) };
        _a.Write(experiment);
        var retry = new FairNad.Llm.LlmRetryPolicy(Time: new InstantTimeProvider());
        using (var server = new ScriptedOllamaServer(Designer) { Faults = (path, call) => call > 0 ? Fault.RunnerKilled : null })
        {
            Assert.Throws<InfrastructureFailureException>(() => SearchFixture.Run(_a.Request(LlmOnly("auto"), llmServer: server.Uri.ToString()) with { LlmRetry = retry }));
        }

        using var changed = new ScriptedOllamaServer(Designer) { ServedDigest = changedDigest };
        var resume = _a.Request(LlmOnly("auto"), resume: "tiny-fairnad-s0", llmServer: changed.Uri.ToString()) with { LlmRetry = retry };

        var e = Assert.Throws<FairNad.Llm.LlmModelChangedException>(() => SearchFixture.Run(resume));

        Assert.Contains($"recorded with test-model:latest ({ScriptedOllamaServer.Digest}), but {changed.Uri} now serves test-model:latest ({changedDigest})", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, changed.ChatCalls);

        var resumed = SearchFixture.Run(resume with { LlmAllowModelChange = true }).Single();

        Assert.Equal(7, resumed.Candidates.Count);
        var changes = JsonDocument.Parse(File.ReadAllText(Path.Combine(resumed.RunDirectory, "manifest.json"))).RootElement.GetProperty("llm").GetProperty("changes");
        var change = Assert.Single(changes.EnumerateArray());
        Assert.Contains(ScriptedOllamaServer.Digest, change.GetProperty("from").GetString(), StringComparison.Ordinal);
        Assert.Contains(changedDigest, change.GetProperty("to").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Resume_LlmOff_RefusedBecauseItWouldChangeTheSearch()
    {
        var experiment = SearchFixture.Tiny with { Mutation = new MutationMix(0, 0, 1), Candidates = 3, Llm = new LlmOptions("auto", "test-model", 3) };
        _a.Write(experiment);
        using (var server = new ScriptedOllamaServer(Designer))
        {
            SearchFixture.Run(_a.Request(LlmOnly("auto"), llmServer: server.Uri.ToString()));
        }

        var e = Assert.Throws<ExperimentException>(() => SearchFixture.Run(_a.Request(LlmOnly("off"), resume: "tiny-fairnad-s0")));

        Assert.StartsWith("--llm off: run 'tiny-fairnad-s0' was recorded with the LLM on (auto)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_LlmServerStallsPastTheExperimentsStallTimeout_FailedMutationNamingTheStallTimeout()
    {
        var experiment = SearchFixture.Tiny with { Mutation = new MutationMix(0, 0, 1), Candidates = 7, Llm = new LlmOptions("auto", "test-model", 3, TimeoutSeconds: 600, StallTimeoutSeconds: 0.5) };
        _a.Write(experiment);
        using var server = new ScriptedOllamaServer(Designer) { Streams = call => call is >= 1 and <= 4 ? new StreamScript(StallAfter: 0, StallFor: TimeSpan.FromSeconds(30)) : null };
        var request = _a.Request(LlmOnly("auto"), llmServer: server.Uri.ToString()) with { LlmRetry = new FairNad.Llm.LlmRetryPolicy(Time: new InstantTimeProvider()) };

        var outcome = SearchFixture.Run(request).Single();

        Assert.Equal(7, outcome.Candidates.Count);
        var failed = Assert.Single(outcome.FailedMutations, f => f.Reason.Contains("the LLM server failed", StringComparison.Ordinal));
        Assert.Contains("failed on POST /api/chat for model test-model: no new data for 0.5 s (stall timeout; the answer had 0 chunks so far) (gave up after 4 attempts); ", failed.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_LlmStallTimeoutOptionLongerThanTheExperimentsTimeout_StopsNamingBoth()
    {
        _a.Write(SearchFixture.Tiny with { Mutation = new MutationMix(0, 0, 1), Llm = new LlmOptions("auto", "test-model", 3, TimeoutSeconds: 600) });
        using var server = new ScriptedOllamaServer(Designer);

        var e = Assert.Throws<ArgumentException>(() => SearchFixture.Run(_a.Request(LlmOnly("auto") with { LlmStallTimeout = 900 }, llmServer: server.Uri.ToString())));

        Assert.StartsWith("--llm-stall-timeout (900 s) must not exceed the request timeout (600 s, from llm.timeoutSeconds): ", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, server.ChatCalls);
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }
}
