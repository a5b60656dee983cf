using FairNad.Llm;
using FairNad.Search;

namespace FairNad.Experiments.Tests;

/// <summary>
/// The built-in scripted designer (--llm scripted) drives LLM-driven mutation with no server, and the exchanges an
/// experiment ships (llm.recorded) seed a new run so it replays them.
/// </summary>
public sealed class ScriptedDesignerSearchTests : IDisposable
{
    private readonly SearchFixture _a = new();
    private readonly SearchFixture _b = new();

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    private static Experiment LlmOnly => SearchFixture.Tiny with
    {
        Mutation = new MutationMix(0, 0, 1),
        Candidates = 8,
        Llm = new LlmOptions("auto", LlmSettings.ScriptedModel, 3),
    };

    [Fact]
    public void Run_ScriptedDesigner_LlmCandidatesRecordedAndReplayedOffline()
    {
        _a.Write(LlmOnly);
        var live = SearchFixture.Run(_a.Request()).Single();

        var mutated = live.Candidates.Where(c => c.MutationType == MutationTypes.Llm).ToList();
        Assert.NotEmpty(mutated);
        Assert.All(mutated, c => Assert.Matches("^[0-9a-f]{16}$", c.Transcript!));
        var exchanges = Directory.GetFiles(Path.Combine(live.RunDirectory, "llm"), "exchange-*.json");
        Assert.NotEmpty(exchanges);
        Assert.All(exchanges, f => Assert.Contains("Scripted designer (rule-based, not a language model)", File.ReadAllText(f), StringComparison.Ordinal));
        var manifest = File.ReadAllText(Path.Combine(live.RunDirectory, "manifest.json"));
        Assert.Contains($"\"{LlmSettings.ScriptedModel}:latest\"", manifest, StringComparison.Ordinal);

        // Replay needs no designer: the run's own folder answers every question.
        _b.Write(LlmOnly with { Llm = LlmOnly.Llm with { Mode = "replay" } });
        CopyDirectory(Path.Combine(live.RunDirectory, "llm"), Path.Combine(_b.Results, live.Run, "llm"));
        var replayed = SearchFixture.Run(_b.Request()).Single();

        Assert.Equal(SearchFixture.Fingerprint(live.Candidates), SearchFixture.Fingerprint(replayed.Candidates));
    }

    [Fact]
    public async Task Run_ShippedExchanges_NewRunReplaysThemWithoutAsking()
    {
        _a.Write(LlmOnly);
        var recorded = SearchFixture.Run(_a.Request()).Single();

        // Shipped beside the experiment file and replayed: replay would stop at the first question they did not answer.
        CopyDirectory(Path.Combine(recorded.RunDirectory, "llm"), Path.Combine(Path.GetDirectoryName(_b.ExperimentPath)!, "tiny.llm"));
        _b.Write(LlmOnly with { Llm = LlmOnly.Llm with { Mode = "replay", Recorded = "tiny.llm" } });
        var logged = new List<string>();
        var replayed = (await SearchSession.RunAsync(_b.Request(), logged.Add)).Single();

        Assert.Equal(SearchFixture.Fingerprint(recorded.Candidates), SearchFixture.Fingerprint(replayed.Candidates));
        Assert.Contains(logged, l => l.StartsWith("LLM: ", StringComparison.Ordinal) && l.Contains("copied from tiny.llm", StringComparison.Ordinal));
        Assert.Equal(
            Directory.GetFiles(Path.Combine(recorded.RunDirectory, "llm")).Select(Path.GetFileName).Order(StringComparer.Ordinal),
            Directory.GetFiles(Path.Combine(replayed.RunDirectory, "llm")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Run_ShippedExchangesOfAnotherModel_StartsWithoutThemAndSaysSo()
    {
        _a.Write(LlmOnly);
        var recorded = SearchFixture.Run(_a.Request()).Single();
        CopyDirectory(Path.Combine(recorded.RunDirectory, "llm"), Path.Combine(Path.GetDirectoryName(_b.ExperimentPath)!, "tiny.llm"));
        _b.Write(LlmOnly with { Llm = new LlmOptions("replay", "qwen2.5:7b-instruct", 3, Recorded: "tiny.llm") });
        var logged = new List<string>();

        var e = await Assert.ThrowsAnyAsync<Exception>(() => SearchSession.RunAsync(_b.Request(), logged.Add));

        Assert.Contains(logged, l => l.Contains($"were recorded with {LlmSettings.ScriptedModel}:latest; this run asks qwen2.5:7b-instruct, so it starts without them", StringComparison.Ordinal));
        Assert.Contains("no recorded transcripts", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_ShippedFolderMissing_ErrorNamesFileAndField()
    {
        _a.Write(LlmOnly with { Llm = LlmOnly.Llm with { Recorded = "nowhere.llm" } });

        var e = Assert.Throws<ExperimentException>(() => SearchFixture.Run(_a.Request()));

        Assert.StartsWith($"{_a.ExperimentPath}: llm.recorded: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("nowhere.llm is not a folder", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/tmp/x.llm")]
    [InlineData("../x.llm")]
    [InlineData(" ")]
    public void Read_RecordedOutsideTheExperimentsFolder_RejectedNamingTheField(string recorded)
    {
        var json = (LlmOnly with { Llm = LlmOnly.Llm with { Recorded = recorded } }).ToJson();

        var e = Assert.Throws<ExperimentException>(() => ExperimentFile.Read(json, "x.json"));

        Assert.Contains("llm.recorded", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LineageJson_RecordedExchanges_LeftOutLikeTheMode()
    {
        var shipped = LlmOnly with { Llm = LlmOnly.Llm with { Recorded = "tiny.llm" } };

        Assert.Equal(LlmOnly.LineageJson(0), shipped.LineageJson(0));
        Assert.NotEqual(LlmOnly.ToJson(), shipped.ToJson());
        Assert.Equal(shipped.ToJson(), ExperimentFile.Read(shipped.ToJson(), "x.json").ToJson());
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
