using System.Globalization;
using System.Text;
using FairNad.Architecture;
using FairNad.Architecture.Models;
using LibGit2Sharp;

namespace FairNad.Lineage;

/// <summary>Verification: reads only, compares every commit and note with what the store itself would have written.</summary>
public sealed partial class LineageStore
{
    private const int ShortSha = 12;

    /// <summary>
    /// Checks a run with git alone. The root commit and every candidate commit must be exactly what
    /// <see cref="CreateRun"/> and <see cref="Add"/> write for what they describe: the FairNad identity with the synthetic
    /// time for (seed, index) as author and committer; a message byte for byte as written for its own trailers; a tree of
    /// exactly the expected files, the spec canonical and hashing to the candidate id, the code and README regenerating
    /// byte for byte; Run, Seed, Experiment and Lineage-Format agreeing with the root; parents on the parents' branches.
    /// Every candidate commit must have a metrics note that parses, every note must be on a commit a candidate branch
    /// points at, and every commit of the notes history must be FairNad's (identity, time and message).
    /// Nothing is written to the repository.
    /// </summary>
    /// <returns>One line per finding, naming the run and candidate and saying what differs; empty when the run checks out.</returns>
    public IReadOnlyList<string> Verify(string run) => Check(run, null);

    /// <summary>
    /// <see cref="Verify(string)"/>, and a cross-check with the run's own record: every recorded candidate has its branch,
    /// the branch points at the recorded commit, that commit is what <see cref="Add"/> writes for the recorded entry
    /// (recomputed from the record, not from the commit's trailers), and its note agrees with the recorded metrics
    /// (status, validation and test accuracy, parameters, MACs). Branches the record does not list are findings too.
    /// </summary>
    /// <returns>One line per finding; empty when the repository and the record agree and the run checks out.</returns>
    public IReadOnlyList<string> Verify(string run, IReadOnlyList<RecordedCandidate> recorded)
    {
        ArgumentNullException.ThrowIfNull(recorded);
        return Check(run, recorded);
    }

    private List<string> Check(string run, IReadOnlyList<RecordedCandidate>? recorded)
    {
        var findings = new List<string>();
        lock (_gate)
        {
            var rootReference = _repository.Refs[LineageLayout.RootBranch(run)];
            if (rootReference is null)
            {
                findings.Add($"run {run}: no root commit ({LineageLayout.RootBranch(run)})");
                return findings;
            }

            if (_repository.Lookup<Commit>(rootReference.TargetIdentifier) is not { } root)
            {
                findings.Add($"run {run}: {LineageLayout.RootBranch(run)} does not point at a commit");
                return findings;
            }

            if (VerifyRoot(run, root, findings) is not { } facts)
            {
                return findings;
            }

            var candidates = CandidateRefs(run).Select(r => VerifyCandidate(run, facts, r, findings)).ToList();
            var notes = VerifyNotes(run, facts, candidates, findings);
            if (recorded is not null)
            {
                VerifyRecords(run, facts, candidates, notes, recorded, findings);
            }
        }

        return findings;
    }

    /// <summary>The root commit: identity, time, no parents, and message and files as <see cref="CreateRun"/> writes them for its own trailers and files.</summary>
    private RunFacts? VerifyRoot(string run, Commit root, List<string> findings)
    {
        var where = $"run {run}: root commit {Short(root.Sha)}";
        var start = findings.Count;
        var trailers = Trailers.Parse(root.Message);
        var seedText = One(trailers, "Seed");
        if (!long.TryParse(seedText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seed) || LineageLayout.Invariant(seed) != seedText)
        {
            findings.Add($"{where}: trailer Seed is {Quote(seedText)}, not a number; nothing in the run can be checked against it");
            return null;
        }

        if (One(trailers, "Experiment") is not { } experiment)
        {
            findings.Add($"{where}: no Experiment trailer; nothing in the run can be checked against it");
            return null;
        }

        var formatText = One(trailers, "Lineage-Format");
        if (ParseFormat(formatText) is not { } format)
        {
            findings.Add($"{where}: trailer Lineage-Format is {Quote(formatText)}, not a layout this build writes ({string.Join(", ", LineageLayout.Formats)}); the run is checked against layout {LineageLayout.FormatVersion}");
            format = LineageLayout.FormatVersion;
        }

        var facts = new RunFacts(root.Sha, seed, experiment, format);
        if (root.Parents.Any())
        {
            findings.Add($"{where}: has parent(s) {string.Join(", ", root.Parents.Select(p => Short(p.Sha)))}; CreateRun writes a root commit without parents");
        }

        CheckSignatures(where, root, Signature(seed, -1), findings);
        string experimentPath;
        try
        {
            experimentPath = NormalisePath(experiment);
        }
        catch (LineageException e)
        {
            findings.Add($"{where}: {e.Message}");
            return facts;
        }

        if (root[experimentPath]?.Target is not Blob experimentBlob)
        {
            findings.Add($"{where}: no {experimentPath}, the file its Experiment trailer names");
            return facts;
        }

        var knowledge = root[KnowledgeFile]?.Target is Blob knowledgeBlob ? Text(knowledgeBlob) : null;
        var expected = RunCommit(new RunManifest(run, seed, experiment, Text(experimentBlob), knowledge) { Format = format });
        CompareMessage(where, root.Message, expected.Message, "CreateRun writes for its trailers and files", findings);
        CompareTree(where, root, expected.Files.ToDictionary(f => f.Key, f => (string?)f.Value, StringComparer.Ordinal), "CreateRun", findings);
        CheckObjectId(where, root, expected, [], start, "CreateRun", findings);
        return facts;
    }

    /// <summary>One candidate branch: its commit against what <see cref="Add"/> writes for the entry its own trailers describe.</summary>
    private BranchCandidate VerifyCandidate(string run, RunFacts facts, Reference reference, List<string> findings)
    {
        var name = reference.CanonicalName[LineageLayout.BranchPrefix(run).Length..];
        var where = $"{run}/{name}";
        var start = findings.Count;
        var commit = _repository.Lookup<Commit>(reference.TargetIdentifier);
        var stored = commit is null ? null : Read(commit, run);
        if (commit is null || stored is null)
        {
            findings.Add($"{where}: the branch does not point at a candidate commit (missing Candidate trailer)");
            return new BranchCandidate(name, commit, null);
        }

        if (stored.CandidateId != name)
        {
            findings.Add($"{where}: the commit's Candidate trailer says {stored.CandidateId}");
        }

        var trailers = Trailers.Parse(commit.Message);
        AgreeWithRoot(where, trailers, "Run", run, findings);
        AgreeWithRoot(where, trailers, "Seed", LineageLayout.Invariant(facts.Seed), findings);
        AgreeWithRoot(where, trailers, "Experiment", facts.Experiment, findings);
        AgreeWithRoot(where, trailers, "Lineage-Format", LineageLayout.Invariant(facts.Format), findings);
        var indexText = One(trailers, "Index");
        int? index = int.TryParse(indexText, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && LineageLayout.Invariant(parsed) == indexText ? parsed : null;
        if (index is null)
        {
            findings.Add($"{where}: trailer Index is {Quote(indexText)}, not a number");
        }

        var expectedParents = stored.ParentCandidates.Count == 0
            ? [facts.RootSha]
            : stored.ParentCandidates.Select(p => _repository.Refs[LineageLayout.CandidateBranch(run, p)]?.TargetIdentifier ?? $"(missing {p})").ToList();
        if (!expectedParents.SequenceEqual(stored.ParentCommits))
        {
            findings.Add($"{where}: parent commits {string.Join(", ", stored.ParentCommits.Select(Short))} are not the recorded parents {string.Join(", ", expectedParents.Select(Short))}");
        }

        var files = new Dictionary<string, string?>(StringComparer.Ordinal) { [LineageLayout.SpecFile] = null, [LineageLayout.CodeFile] = null, [LineageLayout.ReadmeFile] = null };
        var plan = VerifySpec(commit, name, where, findings);
        if (plan is null || index is null)
        {
            CompareTree(where, commit, files, "Add", findings);
            return new BranchCandidate(name, commit, stored);
        }

        var subject = commit.Message.Split('\n')[0];
        var mutation = One(trailers, "Mutation-Type") ?? string.Empty;
        var summary = subject.StartsWith(mutation + ": ", StringComparison.Ordinal) ? subject[(mutation.Length + 2)..] : subject;
        var entry = new CandidateEntry(index.Value, plan.Canonical, stored.ParentCandidates, mutation, stored.Attribute, stored.Transcript, summary) { Operators = OperatorsIn(commit, plan.Canonical) };
        if (summary == plan.CandidateId[..ShortSha] && commit[LineageLayout.ReadmeFile]?.Target is Blob readme
            && Text(readme) == CandidateReadme.ForCandidate(run, plan.CandidateId, entry with { Summary = string.Empty }, plan, facts.Format))
        {
            // Add writes the id's first 12 characters as the subject of a candidate without a summary.
            entry = entry with { Summary = string.Empty };
        }

        var expected = CandidateCommit(run, entry, plan, facts.Seed, facts.Experiment, facts.Format);
        var ownSeed = long.TryParse(One(trailers, "Seed"), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var s) ? s : facts.Seed;
        var ownMessage = CandidateMessage(One(trailers, "Run") ?? run, entry, stored.CandidateId, ownSeed, One(trailers, "Experiment") ?? facts.Experiment,
            ParseFormat(One(trailers, "Lineage-Format")) ?? facts.Format);
        CompareMessage(where, commit.Message, ownMessage, "Add writes for its own trailers", findings);
        CheckSignatures(where, commit, expected.Signature, findings);
        foreach (var (path, text) in expected.Files.Where(f => f.Key != LineageLayout.SpecFile))
        {
            files[path] = text;
        }

        CompareTree(where, commit, files, "Add", findings);
        CheckObjectId(where, commit, expected, expectedParents, start, "Add", findings);
        return new BranchCandidate(name, commit, stored);
    }

    /// <summary>The spec file parses, hashes to the candidate id, is canonical and plans; null (with a finding) otherwise.</summary>
    private NetworkPlan? VerifySpec(Commit commit, string candidateId, string where, List<string> findings)
    {
        if (commit[LineageLayout.SpecFile]?.Target is not Blob specBlob)
        {
            findings.Add($"{where}: no {LineageLayout.SpecFile}");
            return null;
        }

        ArchitectureSpec spec;
        var text = Text(specBlob);
        try
        {
            spec = SpecJson.Read(text, $"{where}/{LineageLayout.SpecFile}");
        }
        catch (SpecFormatException e)
        {
            findings.Add(e.Message);
            return null;
        }

        if (spec.Id != candidateId)
        {
            findings.Add($"{where}: {LineageLayout.SpecFile} hashes to {spec.Id}, not to the candidate id");
            return null;
        }

        if (text != CanonicalSpecFile(spec))
        {
            findings.Add($"{where}: {LineageLayout.SpecFile} is not in canonical form (edited by hand?)");
        }

        try
        {
            return NetworkPlanner.Plan(spec, $"{where}/{LineageLayout.SpecFile}");
        }
        catch (InvalidArchitectureException e)
        {
            findings.Add(e.Message);
            return null;
        }
    }

    /// <summary>
    /// The notes: each parses and sits on a commit a candidate branch points at, each candidate commit has one, and each
    /// commit of the notes history is FairNad's. Returns the current notes (target commit, blob).
    /// </summary>
    private Dictionary<string, ObjectId> VerifyNotes(string run, RunFacts facts, IReadOnlyList<BranchCandidate> candidates, List<string> findings)
    {
        var notes = new Dictionary<string, ObjectId>(StringComparer.Ordinal);
        var removedBy = new Dictionary<string, Commit>(StringComparer.Ordinal);
        var reference = _repository.Refs[LineageLayout.NotesRef(run)];
        var tip = reference is null ? null : _repository.Lookup<Commit>(reference.TargetIdentifier);
        if (reference is not null && tip is null)
        {
            findings.Add($"run {run}: {LineageLayout.NotesRef(run)} does not point at a commit");
        }
        else if (tip is not null)
        {
            var history = _repository.Commits.QueryBy(new CommitFilter { IncludeReachableFrom = tip, SortBy = CommitSortStrategies.Topological | CommitSortStrategies.Reverse });
            foreach (var notesCommit in history)
            {
                VerifyNotesCommit(run, facts, notesCommit, removedBy, findings);
            }

            notes = NoteChanges(null, tip.Tree).ToDictionary(c => c.Target, c => c.After!, StringComparer.Ordinal);
        }

        foreach (var (target, blob) in notes)
        {
            try
            {
                CandidateMetrics.Parse(Text(_repository.Lookup<Blob>(blob)), $"note of {NoteOwner(run, target)}");
            }
            catch (LineageException e)
            {
                findings.Add(e.Message);
            }
        }

        var onBranches = candidates.Where(c => c.Commit is not null).Select(c => c.Commit!.Sha).ToHashSet(StringComparer.Ordinal);
        var orphans = notes.Keys.Where(t => !onBranches.Contains(t)).Order(StringComparer.Ordinal)
            .Select(t => (Target: t, Candidate: _repository.Lookup<Commit>(t) is { } c ? Read(c, run) : null)).ToList();
        var explained = new HashSet<string>(StringComparer.Ordinal);
        foreach (var candidate in candidates.Where(c => c.Commit is not null && c.Stored is not null && !notes.ContainsKey(c.Commit.Sha)))
        {
            var where = $"{run}/{candidate.Name}";
            var sha = candidate.Commit!.Sha;
            var moved = orphans.FirstOrDefault(o => o.Candidate?.CandidateId == candidate.Stored!.CandidateId);
            if (moved.Target is not null)
            {
                explained.Add(moved.Target);
                findings.Add($"{where}: commit {Short(sha)} has no metrics note; the candidate's note is on commit {Short(moved.Target)}, " +
                    "which the branch pointed at before it was moved to a rewritten commit");
            }
            else if (removedBy.TryGetValue(sha, out var remover))
            {
                findings.Add($"{where}: commit {Short(sha)} has no metrics note: notes commit {Short(remover.Sha)} by {Describe(remover.Author)} deleted it");
            }
            else
            {
                findings.Add($"{where}: commit {Short(sha)} has no metrics note: the candidate was recorded but no evaluation was; " +
                    $"if the run was interrupted, `fairnad search --resume {run}` evaluates it and writes the note");
            }
        }

        foreach (var (target, owner) in orphans.Where(o => !explained.Contains(o.Target)))
        {
            if (owner is null)
            {
                findings.Add($"run {run}: a metrics note is on commit {Short(target)}, which no candidate branch points at and which is not a candidate commit");
                continue;
            }

            var branch = LineageLayout.CandidateBranch(run, owner.CandidateId);
            var now = _repository.Refs[branch]?.TargetIdentifier;
            findings.Add($"{run}/{owner.CandidateId}: a metrics note is on commit {Short(target)} (candidate #{owner.Index}), which no candidate branch points at: " +
                (now is null ? $"branch {branch["refs/heads/".Length..]} was deleted" : $"branch {branch["refs/heads/".Length..]} points at {Short(now)}, so the candidate's commit was rewritten"));
        }

        return notes;
    }

    /// <summary>One commit of the notes history: one note written per commit, by FairNad, at the time of the candidate it notes.</summary>
    private void VerifyNotesCommit(string run, RunFacts facts, Commit notesCommit, Dictionary<string, Commit> removedBy, List<string> findings)
    {
        var parents = notesCommit.Parents.ToList();
        var changes = NoteChanges(parents.Count == 0 ? null : parents[0].Tree, notesCommit.Tree);
        foreach (var removal in changes.Where(c => c.After is null))
        {
            removedBy[removal.Target] = notesCommit;
        }

        var problems = new List<string>();
        if (parents.Count > 1)
        {
            problems.Add($"it merges {parents.Count} notes histories");
        }

        var target = changes.Count == 1 ? changes[0].Target : null;
        var owner = target is not null && _repository.Lookup<Commit>(target) is { } noted ? Read(noted, run) : null;
        if (changes.Count != 1)
        {
            problems.Add($"it changes {changes.Count} notes (FairNad changes one per commit)");
        }
        else if (changes[0].After is null)
        {
            problems.Add("it deletes the note (FairNad never does)");
        }

        // A note on a commit that is no candidate has no synthetic time to expect; the identity must still be FairNad's.
        var expected = owner is null ? null : Signature(facts.Seed, owner.Index);
        var want = expected is null ? $"{LineageLayout.IdentityName} <{LineageLayout.IdentityEmail}>" : Describe(expected);
        bool IsFairNad(Signature s) => expected is null ? s.Name == LineageLayout.IdentityName && s.Email == LineageLayout.IdentityEmail : Describe(s) == want;
        var (author, committer) = (Describe(notesCommit.Author), Describe(notesCommit.Committer));
        if (!IsFairNad(notesCommit.Author) && author == committer)
        {
            problems.Add($"author and committer {author}, expected {want}");
        }
        else
        {
            if (!IsFairNad(notesCommit.Author))
            {
                problems.Add($"author {author}, expected {want}");
            }

            if (!IsFairNad(notesCommit.Committer))
            {
                problems.Add($"committer {committer}, expected {want}");
            }
        }

        if (target is not null && notesCommit.Message != NotesMessage(target))
        {
            problems.Add($"message {Quote(notesCommit.Message.TrimEnd('\n'))}, expected {Quote(NotesMessage(target).TrimEnd('\n'))}");
        }

        if (problems.Count == 0)
        {
            return;
        }

        var subject = owner is not null ? $"{run}/{owner.CandidateId}" : target is not null ? $"run {run}: note on commit {Short(target)}" : $"run {run}";
        var what = changes.Count != 1 ? "notes were changed"
            : (owner is null ? "a" : "its") + (changes[0].Before is null ? " metrics note was written" : changes[0].After is null ? " metrics note was deleted" : " metrics note was rewritten");
        findings.Add($"{subject}: {what} outside FairNad by notes commit {Short(notesCommit.Sha)}: {string.Join("; ", problems)}");
    }

    /// <summary>The cross-check with the run's record; see <see cref="Verify(string, IReadOnlyList{RecordedCandidate})"/>.</summary>
    private void VerifyRecords(string run, RunFacts facts, IReadOnlyList<BranchCandidate> candidates, IReadOnlyDictionary<string, ObjectId> notes,
        IReadOnlyList<RecordedCandidate> recorded, List<string> findings)
    {
        var byId = new Dictionary<string, RecordedCandidate>(StringComparer.Ordinal);
        foreach (var record in recorded)
        {
            if (!byId.TryAdd(record.CandidateId, record))
            {
                findings.Add($"{run}/{record.CandidateId}: the journal records it twice (#{byId[record.CandidateId].Index} and #{record.Index})");
            }
        }

        foreach (var record in byId.Values.OrderBy(r => r.Index).ThenBy(r => r.CandidateId, StringComparer.Ordinal))
        {
            VerifyRecord(run, facts, record, byId, notes, findings);
        }

        foreach (var candidate in candidates.Where(c => !byId.ContainsKey(c.Name)))
        {
            var what = candidate.Commit is null ? "branch" : $"branch (commit {Short(candidate.Commit.Sha)}{(candidate.Stored is { } s ? $", #{s.Index}" : string.Empty)})";
            findings.Add($"{run}/{candidate.Name}: {what} is not in the journal; if the run was interrupted after recording it, `fairnad search --resume {run}` records it");
        }
    }

    private void VerifyRecord(string run, RunFacts facts, RecordedCandidate record, Dictionary<string, RecordedCandidate> byId,
        IReadOnlyDictionary<string, ObjectId> notes, List<string> findings)
    {
        var where = $"{run}/{record.CandidateId}";
        if (record.CandidateId.Length != 64 || !record.CandidateId.All(char.IsAsciiHexDigitLower))
        {
            findings.Add($"{where}: the journal's entry #{record.Index} does not name a candidate id (64 lowercase hex digits)");
            return;
        }

        var branchName = LineageLayout.CandidateBranch(run, record.CandidateId);
        var branch = _repository.Refs[branchName];
        var recordedCommit = IsSha(record.Commit) ? _repository.Lookup<Commit>(record.Commit) : null;
        Commit? commit;
        if (branch is null)
        {
            findings.Add($"{where}: the journal records it as #{record.Index}, commit {Short(record.Commit)}, but branch {branchName["refs/heads/".Length..]} does not exist (deleted?)" +
                (recordedCommit is null ? "; the commit is not in the repository either" : string.Empty));
            commit = recordedCommit;
        }
        else
        {
            commit = _repository.Lookup<Commit>(branch.TargetIdentifier);
            if (branch.TargetIdentifier != record.Commit)
            {
                findings.Add($"{where}: the branch points at commit {Short(branch.TargetIdentifier)}, the journal records commit {Short(record.Commit)}");
            }
        }

        if (commit is null || Read(commit, run) is not { } stored)
        {
            return;
        }

        var at = $"in commit {Short(commit.Sha)}";
        var trailers = Trailers.Parse(commit.Message);
        Agree(where, "Index", One(trailers, "Index"), LineageLayout.Invariant(record.Index), at, findings);
        Agree(where, "Mutation-Type", One(trailers, "Mutation-Type"), record.MutationType, at, findings);
        Agree(where, "Attribute", stored.Attribute, record.Attribute, at, findings);
        Agree(where, "Parent-Candidate", string.Join(", ", stored.ParentCandidates), string.Join(", ", record.Parents), at, findings);
        Agree(where, "LLM-Transcript", stored.Transcript, record.Transcript, at, findings);
        Agree(where, "subject", commit.Message.Split('\n')[0], Subject(record.MutationType, record.Summary, record.CandidateId), at, findings);

        var spec = commit[LineageLayout.SpecFile]?.Target is Blob specBlob ? TryReadSpec(Text(specBlob)) : null;
        if (spec?.Id != record.CandidateId)
        {
            if (branch is null)
            {
                findings.Add($"{where}: {LineageLayout.SpecFile} of commit {Short(commit.Sha)} {(spec is null ? "is missing or unreadable" : $"hashes to {spec.Id}")}, not to the journal's candidate id");
            }
        }
        else if (TryPlan(spec) is { } plan)
        {
            var parents = record.Parents.Count == 0
                ? [facts.RootSha]
                : record.Parents.Select(p => byId.TryGetValue(p, out var parent) ? parent.Commit : _repository.Refs[LineageLayout.CandidateBranch(run, p)]?.TargetIdentifier ?? $"(missing {p})").ToList();
            var entry = new CandidateEntry(record.Index, spec, record.Parents, record.MutationType, record.Attribute, record.Transcript, record.Summary) { Operators = OperatorsIn(commit, spec) };
            var expected = CandidateCommit(run, entry, plan, facts.Seed, facts.Experiment, facts.Format).ObjectId(parents);
            if (expected != record.Commit)
            {
                findings.Add($"{where}: the journal's commit {Short(record.Commit)} is not what Add writes for the journal's entry #{record.Index} (that is commit {Short(expected)})");
            }
        }

        var metrics = notes.TryGetValue(commit.Sha, out var blob) ? TryParseMetrics(Text(_repository.Lookup<Blob>(blob))) : null;
        if (notes.ContainsKey(commit.Sha) && metrics is null)
        {
            return; // unparsable: reported with the notes
        }

        if (record.Metrics is null && metrics is not null)
        {
            findings.Add($"{where}: the note of commit {Short(commit.Sha)} says status {metrics.Status}, the journal records no result");
        }
        else if (record.Metrics is not null && metrics is null)
        {
            findings.Add($"{where}: the journal records status {record.Metrics.Status}, validation accuracy {Number(record.Metrics.ValidationAccuracy)}, but commit {Short(commit.Sha)} has no metrics note");
        }
        else if (record.Metrics is { } want && metrics is { } found)
        {
            var note = $"in the note of commit {Short(commit.Sha)}";
            Agree(where, "status", found.Status, want.Status, note, findings);
            Agree(where, "validationAccuracy", Number(found.ValidationAccuracy), Number(want.ValidationAccuracy), note, findings);
            Agree(where, "testAccuracy", Number(found.TestAccuracy), Number(want.TestAccuracy), note, findings);
            Agree(where, "parameters", Number(found.Parameters), Number(want.Parameters), note, findings);
            Agree(where, "macs", Number(found.Macs), Number(want.Macs), note, findings);
        }
    }

    private void CompareTree(string where, Commit commit, IReadOnlyDictionary<string, string?> expected, string writer, List<string> findings)
    {
        var actual = new Dictionary<string, TreeEntry>(StringComparer.Ordinal);
        Files(commit.Tree, string.Empty, actual);
        foreach (var path in actual.Keys.Where(p => !expected.ContainsKey(p)).Order(StringComparer.Ordinal))
        {
            findings.Add($"{where}: the tree holds {path}, which {writer} does not write");
        }

        foreach (var (path, text) in expected)
        {
            if (!actual.TryGetValue(path, out var entry))
            {
                // A missing spec is reported by the spec check.
                if (path != LineageLayout.SpecFile)
                {
                    findings.Add($"{where}: {path} is missing");
                }

                continue;
            }

            if (entry.Mode != Mode.NonExecutableFile)
            {
                findings.Add($"{where}: {path} has mode {Convert.ToString((int)entry.Mode, 8)}, {writer} writes 100644");
            }

            if (text is not null && entry.Target is Blob blob && Text(blob) is var found && found != text)
            {
                findings.Add($"{where}: {path} does not regenerate byte for byte from the spec and the commit's trailers: {FirstDifference(found, text)}");
            }
        }
    }

    private static void CompareMessage(string where, string actual, string expected, string what, List<string> findings)
    {
        if (actual != expected)
        {
            findings.Add($"{where}: the commit message is not what {what}: {FirstDifference(actual, expected)}");
        }
    }

    private static void CheckSignatures(string where, Commit commit, Signature expected, List<string> findings)
    {
        var (author, committer, want) = (Describe(commit.Author), Describe(commit.Committer), Describe(expected));
        if (author != want && author == committer)
        {
            findings.Add($"{where}: author and committer are {author}, expected {want}");
            return;
        }

        if (author != want)
        {
            findings.Add($"{where}: author is {author}, expected {want}");
        }

        if (committer != want)
        {
            findings.Add($"{where}: committer is {committer}, expected {want}");
        }
    }

    /// <summary>Catches what the field checks cannot see (extra headers such as a signature): the object id must be the one computed in memory.</summary>
    private static void CheckObjectId(string where, Commit commit, CommitContent expected, IReadOnlyList<string> parents, int start, string writer, List<string> findings)
    {
        if (findings.Count == start && expected.ObjectId(parents) is var id && id != commit.Sha)
        {
            findings.Add($"{where}: commit {Short(commit.Sha)} reads as what {writer} writes but is a different object (expected {Short(id)}): it carries extra headers (a signature or an encoding?)");
        }
    }

    private static void AgreeWithRoot(string where, IReadOnlyList<(string Key, string Value)> trailers, string key, string expected, List<string> findings)
    {
        if (One(trailers, key) is var found && found != expected)
        {
            findings.Add($"{where}: trailer {key} is {Quote(found)}, the run's root commit says {Quote(expected)}");
        }
    }

    private static void Agree(string where, string field, string? found, string? expected, string at, List<string> findings)
    {
        if (found != expected)
        {
            findings.Add($"{where}: {field} is {Quote(found)} {at}, {Quote(expected)} in the journal");
        }
    }

    /// <summary>
    /// The notes that differ between two notes trees, as (target commit, blob before, blob after). Only subtrees whose ids
    /// differ are read, and any fan-out (flat, <c>ab/cdef...</c>, deeper) is accepted, as git reads notes.
    /// </summary>
    private static List<(string Target, ObjectId? Before, ObjectId? After)> NoteChanges(Tree? before, Tree after)
    {
        var old = new Dictionary<string, ObjectId>(StringComparer.Ordinal);
        var now = new Dictionary<string, ObjectId>(StringComparer.Ordinal);
        Collect(before, after, string.Empty, old, now);
        return old.Keys.Union(now.Keys).Where(k => !Equals(old.GetValueOrDefault(k), now.GetValueOrDefault(k))).Order(StringComparer.Ordinal)
            .Select(k => (k, old.GetValueOrDefault(k), now.GetValueOrDefault(k))).ToList();

        static void Collect(Tree? a, Tree? b, string prefix, Dictionary<string, ObjectId> old, Dictionary<string, ObjectId> now)
        {
            var left = a?.ToDictionary(e => e.Name, StringComparer.Ordinal) ?? [];
            var right = b?.ToDictionary(e => e.Name, StringComparer.Ordinal) ?? [];
            foreach (var name in left.Keys.Union(right.Keys))
            {
                var l = left.GetValueOrDefault(name);
                var r = right.GetValueOrDefault(name);
                if (l is not null && r is not null && l.Target.Id == r.Target.Id)
                {
                    continue;
                }

                if (l?.Target is Tree lt && r?.Target is Tree rt)
                {
                    Collect(lt, rt, prefix + name, old, now);
                    continue;
                }

                Add(l, prefix, old);
                Add(r, prefix, now);
            }
        }

        static void Add(TreeEntry? entry, string prefix, Dictionary<string, ObjectId> into)
        {
            var path = prefix + entry?.Name;
            if (entry?.Target is Tree tree)
            {
                foreach (var child in tree)
                {
                    Add(child, path, into);
                }
            }
            else if (entry?.Target is Blob && IsSha(path))
            {
                into[path] = entry.Target.Id;
            }
        }
    }

    private static void Files(Tree tree, string prefix, Dictionary<string, TreeEntry> into)
    {
        foreach (var entry in tree)
        {
            if (entry.Target is Tree subtree)
            {
                Files(subtree, prefix + entry.Name + "/", into);
            }
            else
            {
                into[prefix + entry.Name] = entry;
            }
        }
    }

    private string NoteOwner(string run, string target) =>
        _repository.Lookup<Commit>(target) is { } c && Read(c, run) is { } owner ? $"{run}/{owner.CandidateId}" : $"commit {target} in {LineageLayout.NotesRef(run)}";

    private static string? One(IReadOnlyList<(string Key, string Value)> trailers, string key) =>
        trailers.Where(t => t.Key == key).Select(t => t.Value).FirstOrDefault();

    private static string FirstDifference(string found, string expected)
    {
        var a = found.Split('\n');
        var b = expected.Split('\n');
        var line = 0;
        while (line < a.Length && line < b.Length && a[line] == b[line])
        {
            line++;
        }

        return $"line {line + 1} is {Quote(line < a.Length ? a[line] : null)}, expected {Quote(line < b.Length ? b[line] : null)}";
    }

    private static string Describe(Signature signature) =>
        $"{signature.Name} <{signature.Email}> at {signature.When.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture)}";

    private static string Quote(string? text) =>
        text is null ? "(none)" : $"'{(text.Length > 120 ? text[..117] + "..." : text).Replace("\r", "\\r", StringComparison.Ordinal)}'";

    private static string Number(double? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "(none)";

    private static string Number(long? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "(none)";

    private static string Short(string sha) => sha.Length > ShortSha && IsSha(sha) ? sha[..ShortSha] : sha;

    private static bool IsSha(string text) => text.Length == 40 && text.All(char.IsAsciiHexDigitLower);

    /// <summary>A blob's bytes as UTF-8, a byte-order mark included (a reader that drops it would hide an edit).</summary>
    private static string Text(Blob blob)
    {
        using var content = blob.GetContentStream();
        using var bytes = new MemoryStream();
        content.CopyTo(bytes);
        return new UTF8Encoding(false).GetString(bytes.ToArray());
    }

    private static ArchitectureSpec? TryReadSpec(string text)
    {
        try
        {
            return SpecJson.Read(text, "spec");
        }
        catch (SpecFormatException)
        {
            return null;
        }
    }

    private static NetworkPlan? TryPlan(ArchitectureSpec spec)
    {
        try
        {
            return NetworkPlanner.Plan(spec);
        }
        catch (InvalidArchitectureException)
        {
            return null;
        }
    }

    private static CandidateMetrics? TryParseMetrics(string text)
    {
        try
        {
            return CandidateMetrics.Parse(text, "note");
        }
        catch (LineageException)
        {
            return null;
        }
    }

    /// <summary>What the root commit fixes for the whole run.</summary>
    /// <summary>What the root commit fixes for every candidate of the run, its lineage layout among them.</summary>
    private sealed record RunFacts(string RootSha, long Seed, string Experiment, int Format);

    /// <summary>A branch under <c>fairnad/&lt;run&gt;/</c>, its commit and the candidate read from it (null when it is none).</summary>
    private sealed record BranchCandidate(string Name, Commit? Commit, StoredCandidate? Stored);
}
