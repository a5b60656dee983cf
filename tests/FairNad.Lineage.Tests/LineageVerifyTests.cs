using System.Globalization;
using LibGit2Sharp;

namespace FairNad.Lineage.Tests;

/// <summary>
/// Verify against tampering: each test records the demo family, changes the repository the way a user could (mostly
/// with the git command-line client) and checks that the finding names the candidate and what differs.
/// </summary>
public sealed class LineageVerifyTests : IDisposable
{
    private const string Run = "demo";

    private readonly TempRepositories _repos = new();
    private readonly string _dir;
    private readonly LineageStore _store;
    private readonly IReadOnlyList<StoredCandidate> _family;
    private readonly IReadOnlyList<RecordedCandidate> _journal;

    public LineageVerifyTests()
    {
        _dir = _repos.PathFor("a");
        _store = LineageStore.Open(_dir, create: true);
        (_family, _journal) = TempRepositories.RecordFamilyWithJournal(_store);
    }

    public void Dispose()
    {
        _store.Dispose();
        _repos.Dispose();
    }

    private StoredCandidate Seed => _family[0];

    private StoredCandidate Child => _family[2];

    private StoredCandidate Grandchild => _family[3];

    [Fact]
    public void Verify_CleanRun_NoFindingsWithOrWithoutTheJournal()
    {
        Assert.True(_store.Verify(Run).Count == 0, string.Join("\n", _store.Verify(Run)));
        Assert.True(_store.Verify(Run, _journal).Count == 0, string.Join("\n", _store.Verify(Run, _journal)));
    }

    [Fact]
    public void Verify_TamperedRun_WritesNothingIntoTheRepository()
    {
        Git("notes", "--ref", $"fairnad/{Run}", "remove", Child.Commit);
        Git("update-ref", "-d", $"refs/heads/{Grandchild.Branch}");
        var refs = Git("for-each-ref");
        var objects = ObjectFiles();

        var findings = _store.Verify(Run, _journal);

        Assert.NotEmpty(findings);
        Assert.Equal(refs, Git("for-each-ref"));
        Assert.Equal(objects, ObjectFiles());
    }

    [Fact]
    public void Verify_EditedAccuracyNote_ReportsTheRewriteAndTheJournalsValue()
    {
        Git("notes", "--ref", $"fairnad/{Run}", "add", "-f", "-m", "{\"status\": \"ok\", \"validationAccuracy\": 99.5, \"testAccuracy\": 90.9, \"parameters\": 500000, \"macs\": 70000000}", Child.Commit);

        var findings = _store.Verify(Run);
        var journal = _store.Verify(Run, _journal);

        var rewrite = Single(findings, $"{Run}/{Child.CandidateId}: its metrics note was rewritten outside FairNad by notes commit ");
        Assert.Contains("author and committer Test <test@example.invalid> at ", rewrite);
        Assert.Contains($"expected FairNad <lineage@fairnad.invalid> at {Time(2)}", rewrite);
        Assert.Contains($"message 'Notes added by 'git notes add'', expected 'Notes added by FairNad for {Child.Commit}'", rewrite);
        Single(journal, $"{Run}/{Child.CandidateId}: validationAccuracy is '99.5' in the note of commit {Child.Commit[..12]}, '91.25' in the journal");
    }

    [Fact]
    public void Verify_DeletedNote_ReportsTheMissingNoteAndWhoDeletedIt()
    {
        Git("notes", "--ref", $"fairnad/{Run}", "remove", Child.Commit);

        var findings = _store.Verify(Run);
        var journal = _store.Verify(Run, _journal);

        var missing = Single(findings, $"{Run}/{Child.CandidateId}: commit {Child.Commit[..12]} has no metrics note: notes commit ");
        Assert.Contains(" by Test <test@example.invalid> at ", missing);
        Assert.EndsWith(" deleted it", missing);
        Single(findings, $"{Run}/{Child.CandidateId}: its metrics note was deleted outside FairNad by notes commit ");
        Single(journal, $"{Run}/{Child.CandidateId}: the journal records status ok, validation accuracy 91.25, but commit {Child.Commit[..12]} has no metrics note");
    }

    [Fact]
    public void Verify_CandidateNeverEvaluated_ReportsTheMissingNoteWithTheResumeHint()
    {
        var pending = _store.Add(Run, new CandidateEntry(5, TempRepositories.WithNode(TempRepositories.Seed(), "out", n => n.With("fn", "gelu")), [Seed.CandidateId], "random", null, null, "GELU"));

        var findings = _store.Verify(Run);

        Assert.Equal(
            [$"{Run}/{pending.CandidateId}: commit {pending.Commit[..12]} has no metrics note: the candidate was recorded but no evaluation was; if the run was interrupted, `fairnad search --resume {Run}` evaluates it and writes the note"],
            findings);
    }

    [Fact]
    public void Verify_DeletedLeafBranch_OrphanedNoteAndJournalBothReportIt()
    {
        Git("branch", "-D", Grandchild.Branch);

        var findings = _store.Verify(Run);
        var journal = _store.Verify(Run, _journal);

        Assert.Equal(
            [$"{Run}/{Grandchild.CandidateId}: a metrics note is on commit {Grandchild.Commit[..12]} (candidate #3), which no candidate branch points at: branch {Grandchild.Branch} was deleted"],
            findings);
        Single(journal, $"{Run}/{Grandchild.CandidateId}: the journal records it as #3, commit {Grandchild.Commit[..12]}, but branch {Grandchild.Branch} does not exist (deleted?)");
    }

    [Fact]
    public void Verify_LeafRewrittenWithOtherTrailersAndAuthor_ReportsAuthorReadmeNoteAndJournal()
    {
        var message = _store.Message(Grandchild.Commit).Replace("llm: ", "random: ", StringComparison.Ordinal).Replace("Mutation-Type: llm", "Mutation-Type: random", StringComparison.Ordinal);
        var forged = Rewrite(Grandchild, Tree(Grandchild.Commit), [Child.Commit], message);

        var findings = _store.Verify(Run);
        var journal = _store.Verify(Run, _journal);

        var where = $"{Run}/{Grandchild.CandidateId}";
        var author = Single(findings, $"{where}: author and committer are Test <test@example.invalid> at ");
        Assert.EndsWith($", expected FairNad <lineage@fairnad.invalid> at {Time(3)}", author);
        Single(findings, $"{where}: README.md does not regenerate byte for byte from the spec and the commit's trailers: line 5 is '- Mutation: llm, attribute `block.recalibration.squeeze-excitation`', expected '- Mutation: random, ");
        Single(findings, $"{where}: commit {forged[..12]} has no metrics note; the candidate's note is on commit {Grandchild.Commit[..12]}, which the branch pointed at before it was moved to a rewritten commit");
        Assert.DoesNotContain(findings, f => f.Contains("commit message", StringComparison.Ordinal));
        Single(journal, $"{where}: the branch points at commit {forged[..12]}, the journal records commit {Grandchild.Commit[..12]}");
        Single(journal, $"{where}: Mutation-Type is 'random' in commit {forged[..12]}, 'llm' in the journal");
    }

    [Fact]
    public void Verify_TrailerLayoutChangedByFairNadLookalike_ReportsTheMessage()
    {
        // Same identity and time as FairNad, same tree and parents, the Seed and Experiment trailers swapped.
        var message = _store.Message(Grandchild.Commit).Replace("Seed: 42\nExperiment: experiments/quickstart.json\n", "Experiment: experiments/quickstart.json\nSeed: 42\n", StringComparison.Ordinal);
        var forged = Rewrite(Grandchild, Tree(Grandchild.Commit), [Child.Commit], message, FairNadAt(3));

        var findings = _store.Verify(Run);

        var where = $"{Run}/{Grandchild.CandidateId}";
        Assert.Equal(
            [
                $"{where}: the commit message is not what Add writes for its own trailers: line 10 is 'Experiment: experiments/quickstart.json', expected 'Seed: 42'",
                $"{where}: commit {forged[..12]} has no metrics note; the candidate's note is on commit {Grandchild.Commit[..12]}, which the branch pointed at before it was moved to a rewritten commit",
            ],
            findings);
    }

    [Fact]
    public void Verify_ExtraCommitHeader_ReportsTheObjectId()
    {
        // Everything git-only checks field by field is FairNad's; only the object (an encoding header) differs.
        var environment = new Dictionary<string, string>(FairNadAt(3)) { ["GIT_CONFIG_PARAMETERS"] = "'i18n.commitencoding'='ISO-8859-1'" };
        var forged = Rewrite(Grandchild, Tree(Grandchild.Commit), [Child.Commit], _store.Message(Grandchild.Commit), environment);

        var findings = _store.Verify(Run);

        Assert.Contains("encoding ISO-8859-1", Git("cat-file", "commit", forged));
        Single(findings, $"{Run}/{Grandchild.CandidateId}: commit {forged[..12]} reads as what Add writes but is a different object (expected {Grandchild.Commit[..12]}): it carries extra headers");
    }

    [Fact]
    public void Verify_SelfConsistentRewriteOfTrailers_OnlyTheJournalCatchesTheTrailer()
    {
        // A commit FairNad itself wrote for another attribute (another repository, same run): every git-only check of it passes.
        using (var other = LineageStore.Open(_repos.PathFor("b"), create: true))
        {
            other.CreateRun(TempRepositories.Manifest());
            other.Add(Run, new CandidateEntry(0, TempRepositories.Seed(), [], "seed", null, null, "ResNet basic block"));
            other.Add(Run, new CandidateEntry(2, TempRepositories.Child(), [Seed.CandidateId], "fair-idea", "operator.activation.hardswish", null, "swap the block's last ReLU for Hardswish"));
            other.Add(Run, new CandidateEntry(3, TempRepositories.Grandchild(), [Child.CandidateId], "llm", "block.attention.cbam", "sha256:" + new string('a', 64), "add squeeze-and-excitation on the residual branch"));
        }

        Git("fetch", "-q", "-f", _repos.PathFor("b"), $"refs/heads/{Grandchild.Branch}:refs/heads/{Grandchild.Branch}");
        var forged = Git("rev-parse", Grandchild.Branch).Trim();

        var findings = _store.Verify(Run);
        var journal = _store.Verify(Run, _journal);

        var where = $"{Run}/{Grandchild.CandidateId}";
        Assert.Equal([$"{where}: commit {forged[..12]} has no metrics note; the candidate's note is on commit {Grandchild.Commit[..12]}, which the branch pointed at before it was moved to a rewritten commit"], findings);
        Single(journal, $"{where}: Attribute is 'block.attention.cbam' in commit {forged[..12]}, 'block.recalibration.squeeze-excitation' in the journal");
        Single(journal, $"{where}: the branch points at commit {forged[..12]}, the journal records commit {Grandchild.Commit[..12]}");
    }

    [Fact]
    public void Verify_RewrittenReadme_ReportsTheLineThatDiffers()
    {
        var forged = RewriteTree(Grandchild, "README.md", "# A better story\n");

        var findings = _store.Verify(Run);

        var where = $"{Run}/{Grandchild.CandidateId}";
        Single(findings, $"{where}: README.md does not regenerate byte for byte from the spec and the commit's trailers: line 1 is '# A better story', expected '# Candidate {Grandchild.CandidateId[..12]} of run {Run}'");
        Single(findings, $"{where}: commit {forged[..12]} has no metrics note; ");
    }

    [Fact]
    public void Verify_ExtraFileInTree_Reported()
    {
        RewriteTree(Grandchild, "weights.txt", "0.5\n");

        var findings = _store.Verify(Run);

        Single(findings, $"{Run}/{Grandchild.CandidateId}: the tree holds weights.txt, which Add does not write");
    }

    [Fact]
    public void Verify_IndexTrailerNotANumber_ReportedAndStillListed()
    {
        var message = _store.Message(Grandchild.Commit).Replace("Index: 3\n", "Index: three\n", StringComparison.Ordinal);
        Rewrite(Grandchild, Tree(Grandchild.Commit), [Child.Commit], message, FairNadAt(3));

        var findings = _store.Verify(Run);

        Single(findings, $"{Run}/{Grandchild.CandidateId}: trailer Index is 'three', not a number");
        Assert.Equal(5, _store.Candidates(Run).Count);
    }

    [Fact]
    public void Verify_SeedTrailerDisagreesWithRoot_Reported()
    {
        var message = _store.Message(Grandchild.Commit).Replace("Seed: 42\n", "Seed: 7\n", StringComparison.Ordinal);
        Rewrite(Grandchild, Tree(Grandchild.Commit), [Child.Commit], message, FairNadAt(3));

        var findings = _store.Verify(Run);

        Single(findings, $"{Run}/{Grandchild.CandidateId}: trailer Seed is '7', the run's root commit says '42'");
        Assert.DoesNotContain(findings, f => f.Contains("commit message", StringComparison.Ordinal));
    }

    [Fact]
    public void Verify_RootRewrittenByAnotherAuthor_ReportsRootAndTheSeedsParents()
    {
        var root = Git("rev-parse", $"fairnad/{Run}/root").Trim();
        var forged = GitAs(_store.Message(root), null, "commit-tree", Tree(root)).Trim();
        Git("update-ref", $"refs/heads/fairnad/{Run}/root", forged);

        var findings = _store.Verify(Run);

        var author = Single(findings, $"run {Run}: root commit {forged[..12]}: author and committer are Test <test@example.invalid> at ");
        Assert.EndsWith($"expected FairNad <lineage@fairnad.invalid> at {Time(-1)}", author);
        Single(findings, $"{Run}/{Seed.CandidateId}: parent commits {root[..12]} are not the recorded parents {forged[..12]}");
    }

    [Fact]
    public void Verify_RootExperimentEdited_ReportsTheHashTrailer()
    {
        var root = Git("rev-parse", $"fairnad/{Run}/root").Trim();
        var blob = GitIn("{\"dataset\": \"cifar10\"}\n", "hash-object", "-w", "--stdin").Trim();
        var subtree = GitIn($"100644 blob {blob}\tquickstart.json\n", "mktree").Trim();
        var listing = Git("ls-tree", root).Replace(Git("rev-parse", $"{root}:experiments").Trim(), subtree, StringComparison.Ordinal);
        var tree = GitIn(listing, "mktree").Trim();
        var forged = GitAs(_store.Message(root), FairNadAt(-1), "commit-tree", tree).Trim();
        Git("update-ref", $"refs/heads/fairnad/{Run}/root", forged);

        var findings = _store.Verify(Run);

        var message = Single(findings, $"run {Run}: root commit {forged[..12]}: the commit message is not what CreateRun writes for its trailers and files: line 6 is 'Experiment-Sha256: ");
        Assert.Contains($"expected 'Experiment-Sha256: {LineageLayout.Sha256("{\"dataset\": \"cifar10\"}\n")}'", message);
    }

    [Fact]
    public void Verify_NoteOnACommitThatIsNoCandidate_Reported()
    {
        var root = Git("rev-parse", $"fairnad/{Run}/root").Trim();
        Git("notes", "--ref", $"fairnad/{Run}", "add", "-m", "{\"status\": \"ok\"}", root);

        var findings = _store.Verify(Run);

        Single(findings, $"run {Run}: a metrics note is on commit {root[..12]}, which no candidate branch points at and which is not a candidate commit");
        var foreign = Single(findings, $"run {Run}: note on commit {root[..12]}: a metrics note was written outside FairNad by notes commit ");
        Assert.Contains($", expected FairNad <lineage@fairnad.invalid>; message 'Notes added by 'git notes add'', expected 'Notes added by FairNad for {root}'", foreign);
    }

    [Fact]
    public void Verify_JournalAccuracyDisagreesWithNote_NamesTheFieldAndBothValues()
    {
        var journal = _journal.Select(r => r.Index == 3 ? r with { Metrics = r.Metrics! with { ValidationAccuracy = 31, Macs = 1 } } : r).ToList();

        var findings = _store.Verify(Run, journal);

        Assert.Equal(
            [
                $"{Run}/{Grandchild.CandidateId}: validationAccuracy is '91' in the note of commit {Grandchild.Commit[..12]}, '31' in the journal",
                $"{Run}/{Grandchild.CandidateId}: macs is '70100000' in the note of commit {Grandchild.Commit[..12]}, '1' in the journal",
            ],
            findings);
    }

    [Fact]
    public void Verify_JournalStatusAndMissingResult_Reported()
    {
        var journal = _journal.Select(r => r.Index switch
        {
            4 => r with { Metrics = r.Metrics! with { Status = "ok" } },
            1 => r with { Metrics = null },
            _ => r,
        }).ToList();

        var findings = _store.Verify(Run, journal);

        Single(findings, $"{Run}/{_family[4].CandidateId}: status is 'failed' in the note of commit {_family[4].Commit[..12]}, 'ok' in the journal");
        Single(findings, $"{Run}/{_family[1].CandidateId}: the note of commit {_family[1].Commit[..12]} says status ok, the journal records no result");
    }

    [Fact]
    public void Verify_JournalEntryDisagreesWithCommit_ReportsFieldAndRecomputedCommit()
    {
        var journal = _journal.Select(r => r.Index == 2 ? r with { MutationType = "random", Summary = "swap the block's last ReLU for Hardswish" } : r).ToList();

        var findings = _store.Verify(Run, journal);

        var where = $"{Run}/{Child.CandidateId}";
        Single(findings, $"{where}: Mutation-Type is 'fair-idea' in commit {Child.Commit[..12]}, 'random' in the journal");
        Single(findings, $"{where}: subject is 'fair-idea: swap the block's last ReLU for Hardswish' in commit {Child.Commit[..12]}, 'random: swap the block's last ReLU for Hardswish' in the journal");
        Single(findings, $"{where}: the journal's commit {Child.Commit[..12]} is not what Add writes for the journal's entry #2 (that is commit ");
    }

    [Fact]
    public void Verify_JournalCommitIsNotTheBranchs_Reported()
    {
        var journal = _journal.Select(r => r.Index == 3 ? r with { Commit = Child.Commit } : r).ToList();

        var findings = _store.Verify(Run, journal);

        Single(findings, $"{Run}/{Grandchild.CandidateId}: the branch points at commit {Grandchild.Commit[..12]}, the journal records commit {Child.Commit[..12]}");
        Single(findings, $"{Run}/{Grandchild.CandidateId}: the journal's commit {Child.Commit[..12]} is not what Add writes for the journal's entry #3 (that is commit {Grandchild.Commit[..12]})");
    }

    [Fact]
    public void Verify_BranchNotInJournal_Reported()
    {
        var findings = _store.Verify(Run, _journal.Where(r => r.Index != 4).ToList());

        Assert.Equal(
            [$"{Run}/{_family[4].CandidateId}: branch (commit {_family[4].Commit[..12]}, #4) is not in the journal; if the run was interrupted after recording it, `fairnad search --resume {Run}` records it"],
            findings);
    }

    private static string Single(IReadOnlyList<string> findings, string start)
    {
        var matches = findings.Where(f => f.StartsWith(start, StringComparison.Ordinal)).ToList();
        Assert.True(matches.Count == 1, $"expected one finding starting with\n  {start}\nfound:\n  {string.Join("\n  ", findings)}");
        return matches[0];
    }

    private static string Time(int index) => LineageLayout.CommitTime(42, index).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);

    /// <summary>The environment that makes git write a commit with FairNad's identity and synthetic time for candidate <paramref name="index"/>.</summary>
    private static Dictionary<string, string> FairNadAt(int index)
    {
        var date = $"@{LineageLayout.CommitTime(42, index).ToUnixTimeSeconds()} +0000";
        return new Dictionary<string, string>
        {
            ["GIT_AUTHOR_NAME"] = LineageLayout.IdentityName,
            ["GIT_COMMITTER_NAME"] = LineageLayout.IdentityName,
            ["GIT_AUTHOR_EMAIL"] = LineageLayout.IdentityEmail,
            ["GIT_COMMITTER_EMAIL"] = LineageLayout.IdentityEmail,
            ["GIT_AUTHOR_DATE"] = date,
            ["GIT_COMMITTER_DATE"] = date,
        };
    }

    private string Git(params string[] arguments) => TempRepositories.Git(_dir, null, arguments);

    private string GitIn(string input, params string[] arguments) => TempRepositories.Git(_dir, input, arguments);

    private string GitAs(string? input, IReadOnlyDictionary<string, string>? environment, params string[] arguments) =>
        TempRepositories.GitWithEnvironment(_dir, input, environment ?? new Dictionary<string, string>(), arguments);

    private string Tree(string commit) => Git("rev-parse", $"{commit}^{{tree}}").Trim();

    /// <summary>Writes a commit with plain git (as Test unless <paramref name="environment"/> says otherwise) and moves the candidate's branch to it.</summary>
    private string Rewrite(StoredCandidate candidate, string tree, IEnumerable<string> parents, string message, IReadOnlyDictionary<string, string>? environment = null)
    {
        var commit = GitAs(message, environment, ["commit-tree", tree, .. parents.SelectMany(p => new[] { "-p", p })]).Trim();
        Git("update-ref", $"refs/heads/{candidate.Branch}", commit);
        return commit;
    }

    /// <summary>Rewrites a candidate's commit with LibGit2Sharp: same author, committer, message and parents, one file added or replaced.</summary>
    private string RewriteTree(StoredCandidate candidate, string path, string text)
    {
        using var repository = new Repository(_store.Path);
        var commit = repository.Lookup<Commit>(candidate.Commit);
        var definition = TreeDefinition.From(commit);
        definition.Add(path, repository.ObjectDatabase.CreateBlob(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text))), Mode.NonExecutableFile);
        var edited = repository.ObjectDatabase.CreateCommit(commit.Author, commit.Committer, commit.Message, repository.ObjectDatabase.CreateTree(definition), commit.Parents, false);
        repository.Refs.UpdateTarget(repository.Refs[$"refs/heads/{candidate.Branch}"], edited.Id);
        return edited.Sha;
    }

    private List<string> ObjectFiles() =>
        Directory.EnumerateFiles(Path.Combine(_store.Path, "objects"), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
}
