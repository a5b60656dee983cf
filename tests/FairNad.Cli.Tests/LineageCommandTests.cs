using System.Text.Json;
using FairNad.Architecture;
using FairNad.Lineage;

namespace FairNad.Cli.Tests;

using static Cli;

public sealed class LineageCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-cli-lineage-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>A bare repository with run "demo": a ResNet seed, a child with Hardswish, a grandchild with SE.</summary>
    private (string Repository, IReadOnlyList<StoredCandidate> Family) Record()
    {
        var path = Path.Combine(_directory, "lineage.git");
        using var store = LineageStore.Open(path, create: true);
        store.CreateRun(new RunManifest("demo", 7, "experiments/quickstart.json", "{}\n", null));
        var seed = ReferenceArchitectures.Get("resnet");
        var child = seed with { Block = seed.Block with { Nodes = seed.Block.Nodes.Select(n => n.Id == "out" ? n.With("fn", "hardswish") : n).ToList() } };
        var grandchild = child with { Head = new HeadSpec("relu", 0.2) };
        var a = store.Add("demo", new CandidateEntry(0, seed, [], "seed", null, null, "ResNet"));
        var b = store.Add("demo", new CandidateEntry(1, child, [a.CandidateId], "fair-idea", "operator.activation.hardswish", null, "Hardswish"));
        var c = store.Add("demo", new CandidateEntry(2, grandchild, [b.CandidateId], "llm", "network.head.dropout", "sha256:" + new string('c', 64), "head dropout"));
        store.SetMetrics("demo", a.CandidateId, new CandidateMetrics("ok", 90, null, 100));
        store.SetMetrics("demo", c.CandidateId, new CandidateMetrics("failed", FailureReason: "diverged"));
        return (path, [a, b, c]);
    }

    [Fact]
    public void Lineage_PrefixAsJson_ChainFromTheSeed()
    {
        var (repository, family) = Record();

        var (code, output, error) = Run("lineage", family[2].CandidateId[..10], "--repo", repository, "--format", "json");

        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(family.Select(f => f.CandidateId), json.RootElement.EnumerateArray().Select(e => e.GetProperty("candidate").GetString()));
        Assert.Equal("sha256:" + new string('c', 64), json.RootElement[2].GetProperty("transcript").GetString());
    }

    [Fact]
    public void Lineage_Diff_ShowsWhatEachStepChanged()
    {
        var (repository, family) = Record();

        var (code, output, _) = Run("lineage", family[2].CandidateId, "--repo", repository, "--diff");

        Assert.Equal(0, code);
        Assert.Contains("```diff", output);
        Assert.Contains("+    \"dropout\": 0.2,", output);
        Assert.Contains("| fair-idea | operator.activation.hardswish |", output);
    }

    [Fact]
    public void List_Run_OneLinePerCandidateWithStatus()
    {
        var (repository, family) = Record();

        var (code, output, _) = Run("lineage", "list", "--repo", repository, "--run", "demo");
        var runs = Run("lineage", "list", "--repo", repository);

        Assert.Equal(0, code);
        Assert.Contains($"{family[0].CandidateId[..12]}", output);
        Assert.Contains("pending", output);
        Assert.Contains("failed", output);
        Assert.Equal("demo\t3 candidates\n", runs.Output.Replace("\r\n", "\n"));
    }

    [Fact]
    public void Verify_CleanAndUnknownRun_ExitCodes()
    {
        var (repository, family) = Record();
        using (var store = LineageStore.Open(repository))
        {
            // Record leaves the child unevaluated (for the list's "pending"); verify reports a candidate without a note.
            store.SetMetrics("demo", family[1].CandidateId, new CandidateMetrics("ok", 91, null, 100));
        }

        var clean = Run("lineage", "verify", "--repo", repository, "--run", "demo");
        var unknown = Run("lineage", "verify", "--repo", repository, "--run", "nope");

        Assert.Equal(0, clean.Code);
        Assert.Contains("3 candidates verified", clean.Output);
        Assert.Equal(1, unknown.Code);
        Assert.Contains("no root commit", unknown.Output);
    }

    [Fact]
    public void ExportImport_Bundle_SameCandidatesElsewhere()
    {
        var (repository, family) = Record();
        var bundle = Path.Combine(_directory, "demo.bundle");
        var other = Path.Combine(_directory, "other.git");

        Assert.Equal(0, Run("lineage", "export", "--repo", repository, "--run", "demo", "--to", bundle).Code);
        Assert.Equal(0, Run("lineage", "import", "--repo", other, "--run", "demo", "--from", bundle).Code);

        using var store = LineageStore.Open(other);
        Assert.Equal(family.Select(f => f.Commit), store.Candidates("demo").Select(c => c.Commit));
    }

    [Fact]
    public void LineageImport_IfMissingAndRunPresent_LeavesNewerRecordUntouched()
    {
        var (repository, family) = Record();
        var bundle = Path.Combine(_directory, "demo.bundle");
        var other = Path.Combine(_directory, "other.git");
        Assert.Equal(0, Run("lineage", "export", "--repo", repository, "--run", "demo", "--to", bundle).Code);
        Assert.Equal(0, Run("lineage", "import", "--repo", other, "--run", "demo", "--from", bundle, "--if-missing").Code);
        string NotesTip()
        {
            using var git = new LibGit2Sharp.Repository(other);
            return git.Refs[LineageLayout.NotesRef("demo")]!.TargetIdentifier;
        }

        // The copy moves on (a later metric note), then an older bundle is offered again.
        using (var store = LineageStore.Open(other))
        {
            store.SetMetrics("demo", family[1].CandidateId, new CandidateMetrics("ok", 50, null, 100));
        }

        var before = NotesTip();
        var again = Run("lineage", "import", "--repo", other, "--run", "demo", "--from", bundle, "--if-missing");

        Assert.Equal(0, again.Code);
        Assert.Contains("left as it is", again.Output);
        Assert.Equal(before, NotesTip());
        using var after = LineageStore.Open(other);
        Assert.Equal(family.Select(f => f.Commit), after.Candidates("demo").Select(c => c.Commit));
    }

    [Fact]
    public void Lineage_NoCandidateOrUnknownRepository_ExitsTwo()
    {
        var (repository, _) = Record();
        var empty = Path.Combine(_directory, "empty");
        Directory.CreateDirectory(empty);

        var none = Run("lineage", "--repo", repository);
        var missing = Run("lineage", "abcdef", "--repo", empty);

        Assert.Equal(2, none.Code);
        Assert.Contains("name a candidate", none.Error);
        Assert.Equal(2, missing.Code);
        Assert.Contains("not inside a git repository", missing.Error);
    }

    [Fact]
    public void BenchLineage_Small_ReportsSegmentsAndVerifies()
    {
        var (code, output, error) = Run("bench", "lineage", "--count", "20", "--segment", "10");

        Assert.True(code == 0, output + error);
        Assert.Contains("20 candidates in", output);
        Assert.Contains("0 problem(s)", output);
    }
}
