using System.Text.Json;
using FairNad.Architecture;
using LibGit2Sharp;

namespace FairNad.Lineage.Tests;

public sealed class LineageStoreTests : IDisposable
{
    private readonly TempRepositories _repos = new();

    public void Dispose() => _repos.Dispose();

    private LineageStore NewStore(string name) => LineageStore.Open(_repos.PathFor(name), create: true);

    [Fact]
    public void Add_SameCandidatesInTwoStores_IdenticalCommitIds()
    {
        using var a = NewStore("a");
        using var b = NewStore("b");

        var first = TempRepositories.RecordFamily(a);
        var second = TempRepositories.RecordFamily(b);

        Assert.Equal(first.Select(c => c.Commit), second.Select(c => c.Commit));
        Assert.Equal(5, first.Select(c => c.Commit).Distinct().Count());
    }

    /// <summary>
    /// The commit format is part of every published run: a run recorded in layout 1 (before candidate commits carried a
    /// project) keeps these ids, since a run keeps the layout its root records (<see cref="LineageLayout.Formats"/>).
    /// </summary>
    [Fact]
    public void Add_FamilyInLayout1_CommitIdsPinned()
    {
        using var store = NewStore("a");
        store.CreateRun(TempRepositories.Manifest() with { Format = 1 });

        var family = TempRepositories.RecordFamily(store);
        var root = TempRepositories.Git(_repos.PathFor("a"), null, "rev-parse", "fairnad/demo/root").Trim();

        Assert.Equal("7badd1cf639760064efc267498044b1d6175ed72", root);
        Assert.Equal(
            [
                "277c860a9e3828f4578b9c1c7557fdb71ff3ffc2", "5abf37b7a417b352b4c0e043eb852d8df073e738", "3bf254ffe8437d813aebf006585003479a61f0a0",
                "6ae37a1ca8a3094316d678995e8133b81ecba7c9", "0993f6768dd2b83423dc75bd0b59951c1b1c7ca6",
            ],
            family.Select(c => c.Commit));
    }

    [Fact]
    public void CommitContent_Family_InMemoryIdsEqualTheWrittenCommits()
    {
        using var store = NewStore("a");
        var family = TempRepositories.RecordFamily(store);
        var root = TempRepositories.Git(_repos.PathFor("a"), null, "rev-parse", "fairnad/demo/root").Trim();
        var grandchild = new CandidateEntry(3, TempRepositories.Grandchild(), [family[2].CandidateId], "llm", "block.recalibration.squeeze-excitation",
            "sha256:" + new string('a', 64), "add squeeze-and-excitation on the residual branch");

        var rootId = LineageStore.RunCommit(TempRepositories.Manifest()).ObjectId([]);
        var grandchildId = LineageStore.CandidateCommit("demo", grandchild, FairNad.Architecture.Models.NetworkPlanner.Plan(grandchild.Spec), 42, "experiments/quickstart.json")
            .ObjectId([family[2].Commit]);

        Assert.Equal(root, rootId);
        Assert.Equal(family[3].Commit, grandchildId);
    }

    [Fact]
    public void Add_DifferentSeed_DifferentCommitIdsSameCandidateIds()
    {
        using var a = NewStore("a");
        a.CreateRun(TempRepositories.Manifest("one", seed: 1));
        a.CreateRun(TempRepositories.Manifest("two", seed: 2));

        var one = a.Add("one", new CandidateEntry(0, TempRepositories.Seed(), [], "seed", null, null, "ResNet"));
        var two = a.Add("two", new CandidateEntry(0, TempRepositories.Seed(), [], "seed", null, null, "ResNet"));

        Assert.Equal(one.CandidateId, two.CandidateId);
        Assert.NotEqual(one.Commit, two.Commit);
        Assert.Equal(["one", "two"], a.Runs());
    }

    [Fact]
    public void Add_IntoWorkingRepository_WorkingTreeIndexAndHeadUntouched()
    {
        var path = _repos.PathFor("work");
        Directory.CreateDirectory(path);
        TempRepositories.Git(path, null, "init", "-q", "-b", "main");
        File.WriteAllText(Path.Combine(path, "notes.txt"), "hello\n");
        TempRepositories.Git(path, null, "add", "notes.txt");
        TempRepositories.Git(path, null, "commit", "-q", "-m", "first");
        File.WriteAllText(Path.Combine(path, "notes.txt"), "edited, not staged\n");
        File.WriteAllText(Path.Combine(path, "staged.txt"), "staged\n");
        TempRepositories.Git(path, null, "add", "staged.txt");
        var head = TempRepositories.Git(path, null, "rev-parse", "HEAD");
        var symbolic = TempRepositories.Git(path, null, "symbolic-ref", "HEAD");
        var status = TempRepositories.Git(path, null, "status", "--porcelain");
        var index = File.ReadAllBytes(Path.Combine(path, ".git", "index"));

        using (var store = LineageStore.Open(path))
        {
            TempRepositories.RecordFamily(store);
        }

        Assert.Equal(head, TempRepositories.Git(path, null, "rev-parse", "HEAD"));
        Assert.Equal(symbolic, TempRepositories.Git(path, null, "symbolic-ref", "HEAD"));
        Assert.Equal(status, TempRepositories.Git(path, null, "status", "--porcelain"));
        Assert.Equal(index, File.ReadAllBytes(Path.Combine(path, ".git", "index")));
        Assert.Equal("edited, not staged\n", File.ReadAllText(Path.Combine(path, "notes.txt")));
        Assert.False(File.Exists(Path.Combine(path, "architecture.json")));
        Assert.Contains("fairnad/demo/root", TempRepositories.Git(path, null, "branch", "--list", "fairnad/*"));
    }

    [Fact]
    public void Open_NoRepositoryWithoutCreate_ThrowsNamingThePath()
    {
        var path = _repos.PathFor("nothing");
        Directory.CreateDirectory(path);

        var error = Assert.Throws<LineageException>(() => LineageStore.Open(path));

        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Message_Trailers_ReadBackByGitInterpretTrailers()
    {
        using var store = NewStore("a");
        var grandchild = TempRepositories.RecordFamily(store)[3];

        var message = store.Message(grandchild.Commit);
        var parsed = TempRepositories.Git(_repos.PathFor("a"), message, "interpret-trailers", "--parse");

        Assert.Equal(Trailers.Format(Trailers.Parse(message)), parsed);
        Assert.Contains("Mutation-Type: llm\n", parsed);
        Assert.Contains("Attribute: block.recalibration.squeeze-excitation\n", parsed);
        Assert.Contains($"Parent-Candidate: {TempRepositories.Child().Id}\n", parsed);
        Assert.Contains("LLM-Transcript: sha256:aaaa", parsed);
        Assert.Contains("Seed: 42\n", parsed);
        Assert.Contains("Experiment: experiments/quickstart.json\n", parsed);
    }

    [Fact]
    public void GitCli_LogNotesAndFiles_TellTheSameStory()
    {
        using var store = NewStore("a");
        var family = TempRepositories.RecordFamily(store);
        var dir = _repos.PathFor("a");
        var grandchild = family[3];

        var log = TempRepositories.Git(dir, null, "log", "--first-parent", "--format=%H %an %at", $"fairnad/demo/{grandchild.CandidateId}").Trim().Split('\n');
        var note = TempRepositories.Git(dir, null, "notes", "--ref", "fairnad/demo", "show", grandchild.Commit);
        var spec = TempRepositories.Git(dir, null, "show", $"{grandchild.Commit}:architecture.json");
        var merge = TempRepositories.Git(dir, null, "log", "-1", "--format=%P", family[4].Commit).Trim().Split(' ');

        Assert.Equal([family[3].Commit, family[2].Commit, family[0].Commit], log.Take(3).Select(l => l.Split(' ')[0]));
        Assert.Equal(4, log.Length);
        Assert.All(log, l => Assert.Contains(" FairNad ", l));
        Assert.Equal(LineageLayout.CommitTime(42, 3).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), log[0].Split(' ')[2]);
        Assert.Equal(91.0, JsonDocument.Parse(note).RootElement.GetProperty("validationAccuracy").GetDouble());
        Assert.Equal(grandchild.CandidateId, SpecJson.Read(spec, "git show").Id);
        Assert.Equal([family[1].Commit, family[2].Commit], merge);
    }

    [Fact]
    public void Add_SameCandidateTwice_SameCommit()
    {
        using var store = NewStore("a");
        var family = TempRepositories.RecordFamily(store);

        var again = store.Add("demo", new CandidateEntry(2, TempRepositories.Child(), [family[0].CandidateId], "fair-idea", "operator.activation.hardswish", null, "swap the block's last ReLU for Hardswish"));

        Assert.Equal(family[2].Commit, again.Commit);
    }

    [Fact]
    public void Add_SameCandidateWithOtherLineage_ThrowsAndKeepsTheRecord()
    {
        using var store = NewStore("a");
        var family = TempRepositories.RecordFamily(store);

        var error = Assert.Throws<LineageException>(() => store.Add("demo", new CandidateEntry(9, TempRepositories.Child(), [family[1].CandidateId], "random", null, null, "again")));

        Assert.Contains("a run records each candidate once", error.Message);
        Assert.Equal(family[2].Commit, store.Find(family[2].CandidateId, "demo").Commit);
    }

    [Fact]
    public void Add_UnrecordedParentOrRun_ThrowsNamingIt()
    {
        using var store = NewStore("a");
        Assert.Contains("create the run first", Assert.Throws<LineageException>(() => store.Add("demo", new CandidateEntry(0, TempRepositories.Seed(), [], "seed", null, null, "x"))).Message);
        store.CreateRun(TempRepositories.Manifest());

        var error = Assert.Throws<LineageException>(() => store.Add("demo", new CandidateEntry(1, TempRepositories.Child(), [new string('b', 64)], "llm", null, null, "x")));

        Assert.Contains($"parent {new string('b', 64)}", error.Message);
        Assert.Empty(store.Candidates("demo"));
    }

    [Fact]
    public void Add_InvalidSpec_ThrowsWithValidationErrors()
    {
        using var store = NewStore("a");
        store.CreateRun(TempRepositories.Manifest());
        var broken = TempRepositories.WithNode(TempRepositories.Seed(), "c2", n => n.With("stride", 2));

        var error = Assert.ThrowsAny<Exception>(() => store.Add("demo", new CandidateEntry(0, broken, [], "seed", null, null, "x")));

        Assert.Contains("candidate 0 of run demo is not a valid architecture", error.Message);
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("../escape")]
    [InlineData("x.lock")]
    [InlineData("")]
    public void CreateRun_BadRunName_Throws(string run)
    {
        using var store = NewStore("a");

        Assert.Throws<LineageException>(() => store.CreateRun(TempRepositories.Manifest(run)));
    }

    [Fact]
    public void SetMetrics_ReEvaluation_ReplacesTheNoteNotTheCommit()
    {
        using var store = NewStore("a");
        var seed = TempRepositories.RecordFamily(store)[0];

        store.SetMetrics("demo", seed.CandidateId, new CandidateMetrics("ok", 93.0, 92.5, 500_000, Fidelity: "200 epochs"));

        Assert.Equal(93.0, store.GetMetrics("demo", seed.Commit)!.ValidationAccuracy);
        Assert.Equal("200 epochs", store.GetMetrics("demo", seed.Commit)!.Fidelity);
        Assert.Equal(seed.Commit, store.Find(seed.CandidateId[..10]).Commit);
    }

    [Fact]
    public void Candidates_Family_ListedByIndexWithParents()
    {
        using var store = NewStore("a");
        var family = TempRepositories.RecordFamily(store);

        var listed = store.Candidates("demo");

        Assert.Equal(family.Select(f => f.CandidateId), listed.Select(c => c.CandidateId));
        Assert.Equal([family[1].CandidateId, family[2].CandidateId], listed[4].ParentCandidates);
        Assert.Equal("crossover: MobileNetV2 with the child's head activation", listed[4].Summary);
    }

    [Fact]
    public void Find_AmbiguousOrUnknownPrefix_ThrowsNamingIt()
    {
        using var store = NewStore("a");
        TempRepositories.RecordFamily(store);

        Assert.Contains("no candidate ffffff", Assert.Throws<LineageException>(() => store.Find("ffffff")).Message);
        Assert.Contains("at least 6", Assert.Throws<LineageException>(() => store.Find("ab")).Message);
    }

    [Fact]
    public void Verify_CleanRun_NoProblems()
    {
        using var store = NewStore("a");
        TempRepositories.RecordFamily(store);

        var problems = store.Verify("demo");

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Verify_SpecAlteredByHand_Reported()
    {
        using var store = NewStore("a");
        var child = TempRepositories.RecordFamily(store)[2];
        var dir = _repos.PathFor("a");
        var edited = store.ReadFile(child.Commit, "architecture.json").Replace("\"hardswish\"", "\"gelu\"");

        // Rewrite the branch by hand with plain git: same message and parents, an edited spec.
        var blob = TempRepositories.Git(dir, edited, "hash-object", "-w", "--stdin").Trim();
        var listing = TempRepositories.Git(dir, null, "ls-tree", child.Commit).Replace(
            TempRepositories.Git(dir, null, "rev-parse", $"{child.Commit}:architecture.json").Trim(), blob);
        var tree = TempRepositories.Git(dir, listing, "mktree").Trim();
        var commit = TempRepositories.Git(dir, store.Message(child.Commit), "commit-tree", tree, "-p", child.ParentCommits[0]).Trim();
        TempRepositories.Git(dir, null, "update-ref", $"refs/heads/{child.Branch}", commit);

        var problems = store.Verify("demo");

        Assert.Contains(problems, p => p.StartsWith($"demo/{child.CandidateId}: architecture.json hashes to ", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("are not the recorded parents", StringComparison.Ordinal));
    }

    [Fact]
    public void Verify_EditedCodeAndBrokenNote_Reported()
    {
        using var store = NewStore("a");
        var family = TempRepositories.RecordFamily(store);
        using (var repository = new Repository(store.Path))
        {
            var commit = repository.Lookup<Commit>(family[0].Commit);
            var definition = TreeDefinition.From(commit);
            definition.Add("Network.cs", repository.ObjectDatabase.CreateBlob(new MemoryStream("// edited\n"u8.ToArray())), Mode.NonExecutableFile);
            var edited = repository.ObjectDatabase.CreateCommit(commit.Author, commit.Committer, commit.Message, repository.ObjectDatabase.CreateTree(definition), commit.Parents, false);
            repository.Refs.UpdateTarget(repository.Refs[$"refs/heads/{family[0].Branch}"], edited.Id);
        }

        TempRepositories.Git(_repos.PathFor("a"), null, "notes", "--ref", "fairnad/demo", "add", "-f", "-m", "{\"status\": \"great\"}", family[2].Commit);

        var problems = store.Verify("demo");

        Assert.Contains(problems, p => p.Contains("Network.cs does not regenerate byte for byte", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("status 'great' is not one of", StringComparison.Ordinal));
    }

    [Fact]
    public void Verify_UnknownRun_ReportsMissingRoot()
    {
        using var store = NewStore("a");

        Assert.Equal(["run ghost: no root commit (refs/heads/fairnad/ghost/root)"], store.Verify("ghost"));
    }

    [Fact]
    public void Copy_ToAnotherRepository_SameIdsAndNotes()
    {
        using (var store = NewStore("a"))
        {
            TempRepositories.RecordFamily(store);
            TempRepositories.RecordFamily(store, "other");
        }

        LineageTransfer.Copy(_repos.PathFor("a"), _repos.PathFor("published"), "demo");

        using var source = LineageStore.Open(_repos.PathFor("a"));
        using var copy = LineageStore.Open(_repos.PathFor("published"));
        Assert.Equal(["demo"], copy.Runs());
        Assert.Equal(source.Candidates("demo").Select(c => c.Commit), copy.Candidates("demo").Select(c => c.Commit));
        Assert.Equal(91.0, copy.GetMetrics("demo", copy.Candidates("demo")[3].Commit)!.ValidationAccuracy);
        Assert.Empty(copy.Verify("demo"));
    }

    [Fact]
    public void CopyAndBundle_RunWithRungNotes_CarryEveryRungsNotesAndNoOtherRunsOnes()
    {
        using (var store = NewStore("a"))
        {
            TempRepositories.RecordFamily(store);
            TempRepositories.RecordFamily(store, "other");
            var demo = store.Candidates("demo");
            store.SetMetrics("demo", demo[3].CandidateId, new CandidateMetrics("ok", 93.5, Fidelity: "rung 1 of 3"), rung: 1);
            store.SetMetrics("demo", demo[3].CandidateId, new CandidateMetrics("ok", 94.5, Fidelity: "rung 2 of 3"), rung: 2);
            store.SetMetrics("other", store.Candidates("other")[3].CandidateId, new CandidateMetrics("ok", 50), rung: 1);
        }

        LineageTransfer.Copy(_repos.PathFor("a"), _repos.PathFor("published"), "demo");
        var bundle = _repos.PathFor("demo.bundle");
        LineageTransfer.ExportBundle(_repos.PathFor("a"), "demo", bundle);
        LineageTransfer.ImportBundle(bundle, _repos.PathFor("imported"), "demo");

        foreach (var target in new[] { "published", "imported" })
        {
            using var copy = LineageStore.Open(_repos.PathFor(target));
            var commit = copy.Candidates("demo")[3].Commit;
            Assert.Equal(91.0, copy.GetMetrics("demo", commit)!.ValidationAccuracy);
            Assert.Equal(93.5, copy.GetMetrics("demo", commit, 1)!.ValidationAccuracy);
            Assert.Equal(94.5, copy.GetMetrics("demo", commit, 2)!.ValidationAccuracy);
            using var repository = new LibGit2Sharp.Repository(copy.Path);
            Assert.Null(repository.Refs[LineageLayout.RungNotesRef("other", 1)]);
        }
    }

    [Fact]
    public void Bundle_ExportAndImport_SameIdsAndNotes()
    {
        using (var store = NewStore("a"))
        {
            TempRepositories.RecordFamily(store);
        }

        var bundle = _repos.PathFor("demo.bundle");
        LineageTransfer.ExportBundle(_repos.PathFor("a"), "demo", bundle);
        LineageTransfer.ImportBundle(bundle, _repos.PathFor("imported"), "demo");

        using var source = LineageStore.Open(_repos.PathFor("a"));
        using var imported = LineageStore.Open(_repos.PathFor("imported"));
        Assert.Equal(source.Candidates("demo").Select(c => c.Commit), imported.Candidates("demo").Select(c => c.Commit));
        Assert.Equal("out of memory", imported.GetMetrics("demo", imported.Candidates("demo")[4].Commit)!.FailureReason);
        Assert.Empty(imported.Verify("demo"));
    }
}
