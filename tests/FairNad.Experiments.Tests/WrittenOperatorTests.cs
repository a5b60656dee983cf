using System.Text.Json;
using FairNad.Architecture;
using FairNad.Evaluation.Compilation;
using FairNad.Evaluation.Isolation;
using FairNad.Lineage;
using FairNad.Search;
using FairNad.Tests.Shared;
using LibGit2Sharp;

namespace FairNad.Experiments.Tests;

/// <summary>
/// LLM-written operators end to end: structural verification in worker processes (hostile sources contained by the
/// worker's limits, the caller goes on), and a search whose scripted LLM answers with operators, is repaired, trains the
/// child in workers, commits the operator source with it, and replays offline to the same ids and commits.
/// </summary>
[Trait("Category", "Slow")]
public sealed class WrittenOperatorTests : IDisposable
{
    private readonly SearchFixture _a = new();
    private readonly SearchFixture _b = new();

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    private static WorkerCommand Worker => WorkerCommand.ForAssembly(Path.Combine(AppContext.BaseDirectory, "fairnad.dll"));

    /// <summary>A small residual spec whose block adds the written operator to its input.</summary>
    private static ArchitectureSpec Residual(string reference) => new(
        "written",
        new InputSpec(1, 12, 5),
        new StemSpec(StemKind.Conv, 8, 3, 1, "relu"),
        [new StageSpec(1, 8, DownsampleKind.None)],
        new BlockSpec([new NodeSpec("g", "custom", "input").With("source", reference), new NodeSpec("sum", "add", "g", "input")], "sum"),
        new HeadSpec("none", 0));

    private Experiments.OperatorVerification Verification(double seconds) =>
        new(Worker, Path.Combine(_a.Root, "verify"), new WorkerLimits(TimeSpan.FromSeconds(seconds), 2L << 30));

    [Theory]
    [InlineData(nameof(WrittenOperators.LoopsInConstructor), "ran longer than 40 s and was stopped")]
    [InlineData(nameof(WrittenOperators.LoopsInForward), "ran longer than 40 s and was stopped")]
    [InlineData(nameof(WrittenOperators.OverflowsStack), "was killed by signal")]
    [InlineData(nameof(WrittenOperators.Allocates100Gb), "")]
    public void Verify_HostileSourceInWorker_ContainedAsProblemAndCallerGoesOn(string name, string expected)
    {
        var source = (string)typeof(WrittenOperators).GetField(name)!.GetValue(null)!;
        var reference = OperatorSources.Hash(source);

        var report = Verification(40).Verify(Residual(reference), new Dictionary<string, string> { [reference] = source });

        var problem = Assert.Single(report.Problems);
        if (name == nameof(WrittenOperators.Allocates100Gb))
        {
            // libtorch refuses the allocation (the constructor throws), or the worker grows past its cap and is stopped.
            Assert.True(problem.Contains("the constructor threw", StringComparison.Ordinal) || problem.Contains("memory cap", StringComparison.Ordinal), problem);
        }
        else
        {
            Assert.Contains(expected, problem, StringComparison.Ordinal);
        }

        // The caller goes on: the next verification in a fresh worker passes.
        var ghost = OperatorSources.Hash(WrittenOperators.Ghost);
        Assert.True(Verification(120).Verify(Residual(ghost), new Dictionary<string, string> { [ghost] = WrittenOperators.Ghost }).Passed);
    }

    [Fact]
    public void Verify_ValidOperatorInWorker_PassesWithMeasuredParameters()
    {
        var reference = OperatorSources.Hash(WrittenOperators.GatedMlp);

        var report = Verification(120).Verify(Residual(reference), new Dictionary<string, string> { [reference] = WrittenOperators.GatedMlp });

        Assert.True(report.Passed, string.Join("\n", report.Problems));
        var application = Assert.Single(report.Operators);
        // hidden 16: value and gate 8 -> 16 (128 + 16 each), projection 16 -> 8 (128 + 8).
        Assert.Equal((2 * (128 + 16)) + 128 + 8, application.Parameters);
    }

    /// <summary>
    /// The scripted LLM: the first answer of a conversation writes an operator that deletes a file, the second one that
    /// returns the wrong number of channels, the third a ghost module; each becomes a residual branch on the parent's block.
    /// </summary>
    private static string Designer(JsonElement request)
    {
        var messages = request.GetProperty("messages").EnumerateArray().ToList();
        var first = messages.First(m => m.GetProperty("role").GetString() == "user").GetProperty("content").GetString()!;
        var json = first[(first.IndexOf("```json\n", StringComparison.Ordinal) + 8)..];
        var parent = SpecJson.Read(json[..json.IndexOf("```", StringComparison.Ordinal)], "prompt");
        // The session sends the latest answer and one repair message that lists every earlier problem.
        var last = messages[^1].GetProperty("content").GetString()!;
        var source = !last.Contains("That answer is invalid", StringComparison.Ordinal) ? WrittenOperators.DeletesFile
            : !last.Contains("the contract needs", StringComparison.Ordinal) ? WrittenOperators.WrongChannels
            : WrittenOperators.Ghost;
        var (output, n) = (parent.Block.Output, parent.Block.Nodes.Count);
        var child = parent with
        {
            Block = new BlockSpec(
                [.. parent.Block.Nodes, new NodeSpec($"written{n}", "custom", output).With("source", "operators[0]"), new NodeSpec($"written_sum{n}", "add", $"written{n}", output)],
                $"written_sum{n}"),
        };
        return JsonSerializer.Serialize(new
        {
            summary = "added a written operator as a residual branch",
            architecture = JsonDocument.Parse(SpecJson.Write(child)).RootElement,
            operators = new[] { new { source } },
        });
    }

    [Fact]
    public void Run_LlmWritesOperators_RepairedTrainedCommittedAndReplayable()
    {
        var experiment = SearchFixture.Tiny with
        {
            Mutation = new MutationMix(0, 0, 1),
            Candidates = 6,
            Llm = new LlmOptions("auto", "test-model", 4, WriteOperators: true),
            Evaluation = new EvaluationOptions(1, true, 300, 4096),
        };
        _a.Write(experiment);
        _b.Write(experiment);
        SearchOutcome live;
        List<JsonElement> requests;
        using (var server = new ScriptedOllamaServer(Designer))
        {
            live = SearchFixture.Run(_a.Request(new ExperimentOverrides(LlmMode: "auto", LlmModel: "test-model"), llmServer: server.Uri.ToString(), train: true)).Single();
            requests = server.ChatRequests;
        }

        var written = live.Candidates.Where(c => c.MutationType == MutationTypes.Llm).ToList();
        Assert.NotEmpty(written);
        Assert.All(written, c => Assert.True(c.Status == "ok", $"{c.Candidate}: {c.Status} {c.FailureCategory}"));

        // Each mutation took three answers: the sandbox rejected the first, verification the second.
        var repairs = requests.Select(r => r.GetProperty("messages").EnumerateArray().Last().GetProperty("content").GetString()!).Where(m => m.Contains("That answer is invalid", StringComparison.Ordinal)).ToList();
        Assert.Contains(repairs, m => m.Contains("FNSANDBOX", StringComparison.Ordinal) && m.Contains("line 13", StringComparison.Ordinal));
        Assert.Contains(repairs, m => m.Contains("the contract needs", StringComparison.Ordinal));

        // The operator is in the run's store and in each written candidate's commit, beside the generated code.
        var ghost = OperatorSources.Hash(WrittenOperators.Ghost);
        Assert.Equal(WrittenOperators.Ghost, new OperatorStore(Path.Combine(live.RunDirectory, OperatorSources.Folder)).Get(ghost));
        Assert.False(new OperatorStore(Path.Combine(live.RunDirectory, OperatorSources.Folder)).Contains(OperatorSources.Hash(WrittenOperators.DeletesFile)));
        // Its measured costs are in the run's table, and the journal's parameters and MACs count them.
        var costs = OperatorCostTable.Load(Path.Combine(live.RunDirectory, OperatorSources.Folder));
        Assert.NotEmpty(costs.CostsOf(ghost));
        using (var git = new Repository(_a.Root))
        {
            foreach (var candidate in written)
            {
                var commit = git.Lookup<Commit>(candidate.Commit);
                var blob = Assert.IsType<Blob>(commit[$"{OperatorSources.Folder}/{OperatorSources.FileName(ghost)}"]?.Target);
                Assert.Equal(WrittenOperators.Ghost, blob.GetContentText());
                var specText = ((Blob)commit[LineageLayout.SpecFile].Target).GetContentText();
                Assert.Contains(ghost, specText, StringComparison.Ordinal);
                var spec = SpecJson.Read(specText, "architecture.json");
                var measured = ArchitectureAnalyzer.Analyze(spec, costs);
                Assert.Empty(measured.Unmeasured);
                Assert.Equal((measured.Parameters, measured.Macs), (candidate.Parameters!.Value, candidate.Macs!.Value));
                Assert.True(candidate.Parameters > ArchitectureAnalyzer.Analyze(spec).Parameters);
                Assert.True(candidate.Parameters <= experiment.ParameterBudget);
            }
        }

        // The operator is archived once, for the first candidate that introduced it and the attribute that candidate realised;
        // the summary lists it and the realised share.
        var entry = OperatorArchive.OfRun(live.RunDirectory).Get(ghost);
        Assert.Equal((written[0].Candidate, written[0].Attribute, live.Run, "GhostModule", CustomOperators.Contract, OperatorEntry.GeneratedLicence),
            (entry.Candidate, entry.Attribute, entry.Run, entry.ClassName, entry.Contract, entry.Licence));
        Assert.Equal([ghost], OperatorArchive.OfRun(live.RunDirectory).References());
        var summary = File.ReadAllText(Path.Combine(live.RunDirectory, "summary.md"));
        Assert.Contains("## Written operators", summary, StringComparison.Ordinal);
        Assert.Contains($"| `{ghost[..19]}` | GhostModule | {written[0].Attribute} |", summary, StringComparison.Ordinal);

        // The recorded exchanges replay the run with no server: same ids, same commits.
        CopyDirectory(Path.Combine(live.RunDirectory, "llm"), Path.Combine(_b.Results, live.Run, "llm"));
        var replayed = SearchFixture.Run(_b.Request(new ExperimentOverrides(LlmMode: "replay", LlmModel: "test-model"), train: true)).Single();

        Assert.Equal(SearchFixture.Fingerprint(live.Candidates), SearchFixture.Fingerprint(replayed.Candidates));
        Assert.Equal(live.Candidates.Select(c => (c.Candidate, c.Parameters, c.Macs)), replayed.Candidates.Select(c => (c.Candidate, c.Parameters, c.Macs)));
        Assert.Equal(entry.ToJson(), OperatorArchive.OfRun(replayed.RunDirectory).Get(ghost).ToJson());
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
