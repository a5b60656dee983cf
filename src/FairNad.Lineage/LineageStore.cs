using System.Text;
using FairNad.Architecture;
using FairNad.Architecture.Models;
using LibGit2Sharp;

namespace FairNad.Lineage;

/// <summary>
/// The lineage of search runs in a git repository. Writes create objects and move refs only: the working tree, the index
/// and HEAD are never touched, so it can write into the repository a user is working in. Objects are written before the
/// ref that names them, and libgit2 updates refs through lock files, so a crash leaves every branch on a complete commit.
/// All access is serialised because LibGit2Sharp's <see cref="Repository"/> is not thread-safe.
/// </summary>
public sealed partial class LineageStore : IDisposable
{
    private readonly Repository _repository;
    private readonly Lock _gate = new();

    private LineageStore(Repository repository, string path)
    {
        _repository = repository;
        Path = path;
    }

    /// <summary>The repository's git directory.</summary>
    public string Path { get; }

    /// <summary>Opens the repository at or above <paramref name="path"/>, or creates a bare one there when it has none and <paramref name="create"/> is set.</summary>
    /// <exception cref="LineageException">no repository and not allowed to create one.</exception>
    public static LineageStore Open(string path, bool create = false)
    {
        var full = System.IO.Path.GetFullPath(path);
        var found = Repository.Discover(full);
        if (found is null)
        {
            if (!create)
            {
                throw new LineageException($"{full} is not inside a git repository; pass a repository path or allow creating a bare one");
            }

            Directory.CreateDirectory(full);
            found = Repository.Init(full, isBare: true);
        }

        var repository = new Repository(found);
        return new LineageStore(repository, repository.Info.Path);
    }

    public void Dispose() => _repository.Dispose();

    /// <summary>Creates the run's root commit (experiment file and knowledge snapshot), or returns it if it already exists unchanged.</summary>
    public string CreateRun(RunManifest manifest)
    {
        LineageLayout.CheckRunName(manifest.Run);
        if (manifest.Format is { } asked && !LineageLayout.Formats.Contains(asked))
        {
            throw new LineageException($"run {manifest.Run}: lineage format {asked} is not one this build writes ({string.Join(", ", LineageLayout.Formats)})");
        }

        lock (_gate)
        {
            // A run keeps the layout it started with: resuming an old run must write the root (and candidates) it wrote then.
            var existing = _repository.Lookup<Commit>(LineageLayout.RootBranch(manifest.Run));
            var format = manifest.Format ?? (existing is null ? LineageLayout.FormatVersion : RunInfo(existing).Format);
            var commit = Write(RunCommit(manifest with { Format = format }), []);
            SetRef(LineageLayout.RootBranch(manifest.Run), commit.Id, $"run {manifest.Run}");
            return commit.Sha;
        }
    }

    /// <summary>
    /// Records a candidate as a commit on <c>fairnad/&lt;run&gt;/&lt;candidate id&gt;</c>, parented on its parents' commits
    /// (or the run's root). Recording the same candidate again with the same lineage is a no-op; with a different lineage
    /// it is an error, because a run deduplicates candidates by id.
    /// </summary>
    public StoredCandidate Add(string run, CandidateEntry entry)
    {
        LineageLayout.CheckRunName(run);
        var plan = NetworkPlanner.Plan(entry.Spec, $"candidate {entry.Index} of run {run}");
        var id = plan.CandidateId;
        if (OperatorSources.References(entry.Spec).FirstOrDefault(r => !entry.Operators.TryGetValue(r, out var source) || OperatorSources.Hash(source) != r) is { } missing)
        {
            throw new LineageException($"run {run}: candidate {id} uses operator {missing}, whose source was not given or does not hash to it");
        }

        lock (_gate)
        {
            var root = RootCommit(run);
            var (seed, experiment, format) = RunInfo(root);
            var parentCommits = entry.Parents.Count == 0
                ? [root]
                : entry.Parents.Select(p => _repository.Lookup<Commit>(Branch(run, p)) is { } c && Read(c, run) is not null
                    ? c
                    : throw new LineageException($"run {run}: parent {p} of candidate {id} is not recorded; add parents first")).ToList();

            var commit = Write(CandidateCommit(run, entry, plan, seed, experiment, format), parentCommits);
            SetRef(LineageLayout.CandidateBranch(run, id), commit.Id, $"candidate {id} of run {run}");
            return Read(commit, run)!;
        }
    }

    /// <summary>
    /// The run's root commit as <see cref="CreateRun"/> writes it: the experiment file, the knowledge snapshot and a README,
    /// with the run's trailers. Computed without touching a repository, so <see cref="Verify(string)"/> can compare with it.
    /// </summary>
    internal static CommitContent RunCommit(RunManifest manifest)
    {
        var files = new List<KeyValuePair<string, string>> { new(NormalisePath(manifest.ExperimentPath), manifest.ExperimentContent) };
        var knowledgeHash = "none";
        if (manifest.KnowledgeContent is not null)
        {
            files.Add(new(KnowledgeFile, manifest.KnowledgeContent));
            knowledgeHash = "sha256:" + LineageLayout.Sha256(manifest.KnowledgeContent);
        }

        files.Add(new(LineageLayout.ReadmeFile, CandidateReadme.ForRun(manifest)));
        var message = $"Run {manifest.Run}: {manifest.ExperimentPath}, seed {manifest.Seed}\n\n" + Trailers.Format(
        [
            ("Run", manifest.Run),
            ("Seed", LineageLayout.Invariant(manifest.Seed)),
            ("Experiment", manifest.ExperimentPath),
            ("Experiment-Sha256", LineageLayout.Sha256(manifest.ExperimentContent)),
            ("Knowledge", knowledgeHash),
            ("Lineage-Format", LineageLayout.Invariant(manifest.Format ?? LineageLayout.FormatVersion)),
        ]);
        return new CommitContent(message, Signature(manifest.Seed, -1), files);
    }

    /// <summary>
    /// A candidate's commit as <see cref="Add"/> writes it (message, files, author and committer), for the run with
    /// <paramref name="seed"/> and <paramref name="experiment"/>, in lineage layout <paramref name="format"/>. Computed
    /// without touching a repository. From layout 2 on, the tree is also a project that builds and checks the candidate
    /// on its own (<see cref="CandidateProject"/>).
    /// </summary>
    internal static CommitContent CandidateCommit(string run, CandidateEntry entry, NetworkPlan plan, long seed, string experiment, int format = LineageLayout.FormatVersion)
    {
        var operators = OperatorFiles(entry).ToList();
        List<KeyValuePair<string, string>> files =
        [
            new(LineageLayout.SpecFile, CanonicalSpecFile(entry.Spec)),
            new(LineageLayout.CodeFile, TorchSharpCodeWriter.Write(plan)),
            new(LineageLayout.ReadmeFile, CandidateReadme.ForCandidate(run, plan.CandidateId, entry, plan, format)),
            .. operators,
        ];
        if (format >= 2)
        {
            files.AddRange(CandidateProject.Files(plan, operators));
        }

        return new(CandidateMessage(run, entry, plan.CandidateId, seed, experiment, format), Signature(seed, entry.Index), files);
    }

    /// <summary>
    /// <c>operators/&lt;hex&gt;.cs</c> for each LLM-written operator the spec uses whose source is given and hashes to its
    /// reference (<see cref="Add"/> requires all of them, so a commit never names an operator it does not hold).
    /// </summary>
    internal static IEnumerable<KeyValuePair<string, string>> OperatorFiles(CandidateEntry entry) =>
        OperatorSources.References(entry.Spec)
            .Where(r => entry.Operators.TryGetValue(r, out var source) && OperatorSources.Hash(source) == r)
            .Select(r => new KeyValuePair<string, string>($"{OperatorSources.Folder}/{OperatorSources.FileName(r)}", entry.Operators[r]));

    /// <summary>The operator sources a candidate's commit holds, those whose content hashes to their name.</summary>
    internal static IReadOnlyDictionary<string, string> OperatorsIn(Commit commit, ArchitectureSpec spec) =>
        OperatorSources.References(spec)
            .Select(r => (Reference: r, Blob: commit[$"{OperatorSources.Folder}/{OperatorSources.FileName(r)}"]?.Target as Blob))
            .Where(x => x.Blob is not null && OperatorSources.Hash(x.Blob.GetContentText(Encoding.UTF8)) == x.Reference)
            .ToDictionary(x => x.Reference, x => x.Blob!.GetContentText(Encoding.UTF8), StringComparer.Ordinal);

    /// <summary>The message of a candidate's commit: "&lt;mutation type&gt;: &lt;summary&gt;", a blank line and the trailers.</summary>
    internal static string CandidateMessage(string run, CandidateEntry entry, string candidateId, long seed, string experiment, int format = LineageLayout.FormatVersion)
    {
        var trailers = new List<(string, string)> { ("Candidate", candidateId), ("Run", run), ("Index", LineageLayout.Invariant(entry.Index)), ("Mutation-Type", entry.MutationType) };
        if (entry.Attribute is not null)
        {
            trailers.Add(("Attribute", entry.Attribute));
        }

        trailers.AddRange(entry.Parents.Select(p => ("Parent-Candidate", p)));
        if (entry.Transcript is not null)
        {
            trailers.Add(("LLM-Transcript", entry.Transcript));
        }

        trailers.Add(("Seed", LineageLayout.Invariant(seed)));
        trailers.Add(("Experiment", experiment));
        trailers.Add(("Lineage-Format", LineageLayout.Invariant(format)));
        return $"{Subject(entry.MutationType, entry.Summary, candidateId)}\n\n" + Trailers.Format(trailers);
    }

    /// <summary>The first line of a candidate's commit message.</summary>
    internal static string Subject(string mutationType, string summary, string candidateId)
    {
        var line = summary.ReplaceLineEndings(" ").Trim();
        return $"{mutationType}: {(line.Length == 0 ? candidateId[..12] : line)}";
    }

    /// <summary>The message of the notes commit that writes the note of <paramref name="target"/>.</summary>
    internal static string NotesMessage(string target) => $"Notes added by FairNad for {target}\n";

    /// <summary>
    /// Writes (or replaces, on re-evaluation or promotion to a higher rung) the metrics note of a candidate; with
    /// <paramref name="rung"/>, the note of that rung in <see cref="LineageLayout.RungNotesRef"/> instead.
    /// </summary>
    public void SetMetrics(string run, string candidateId, CandidateMetrics metrics, int? rung = null)
    {
        lock (_gate)
        {
            var commit = _repository.Lookup<Commit>(Branch(run, candidateId)) ?? throw new LineageException($"run {run} has no candidate {candidateId}");
            var stored = Read(commit, run)!;
            WriteNote(rung is { } r ? LineageLayout.RungNotesRef(run, r) : LineageLayout.NotesRef(run), commit.Id, metrics.ToJson(), Signature(stored.Seed, stored.Index));
        }
    }

    /// <summary>
    /// Writes a note as git does for large note sets: under a two-character fan-out directory (<c>ab/cdef...</c>), so an
    /// update rewrites the root (at most 256 entries) and one small subtree rather than one tree of every note.
    /// libgit2 writes flat trees, which makes each note cost grow with the number already written.
    /// </summary>
    private void WriteNote(string name, ObjectId target, string text, Signature signature)
    {
        var reference = _repository.Refs[name];
        var parent = reference is null ? null : _repository.Lookup<Commit>(reference.TargetIdentifier);
        var definition = parent is null ? new TreeDefinition() : TreeDefinition.From(parent.Tree);
        var sha = target.Sha;
        if (parent?.Tree[sha] is not null)
        {
            definition.Remove(sha);
        }

        definition.Add($"{sha[..2]}/{sha[2..]}", Blob(text), Mode.NonExecutableFile);
        var tree = _repository.ObjectDatabase.CreateTree(definition);
        var commit = _repository.ObjectDatabase.CreateCommit(signature, signature, NotesMessage(sha), tree, parent is null ? [] : [parent], prettifyMessage: false);
        if (reference is null)
        {
            _repository.Refs.Add(name, commit.Id);
        }
        else
        {
            _repository.Refs.UpdateTarget(reference, commit.Id);
        }
    }

    /// <summary>The metrics note of a candidate, or null before it was evaluated; with <paramref name="rung"/>, its note of that rung (a laddered run).</summary>
    public CandidateMetrics? GetMetrics(string run, string commitSha, int? rung = null)
    {
        lock (_gate)
        {
            var space = rung is { } r ? LineageLayout.RungNotesNamespace(run, r) : NotesNamespace(run);
            var note = _repository.Notes[space, new ObjectId(commitSha)];
            return note is null ? null : CandidateMetrics.Parse(note.Message, $"note of {commitSha} in refs/notes/{space}");
        }
    }

    /// <summary>Runs recorded in the repository, sorted.</summary>
    public IReadOnlyList<string> Runs()
    {
        lock (_gate)
        {
            return _repository.Refs.FromGlob("refs/heads/fairnad/*").Select(r => r.CanonicalName["refs/heads/fairnad/".Length..])
                .Where(n => n.EndsWith("/root", StringComparison.Ordinal)).Select(n => n[..^"/root".Length]).Order(StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>The candidates of a run, by index.</summary>
    public IReadOnlyList<StoredCandidate> Candidates(string run)
    {
        lock (_gate)
        {
            return CandidateRefs(run).Select(r => Read(_repository.Lookup<Commit>(r.TargetIdentifier), run))
                .OfType<StoredCandidate>().OrderBy(c => c.Index).ThenBy(c => c.CandidateId, StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>Finds a candidate by id or unique id prefix (at least 6 characters), in one run or in all.</summary>
    /// <exception cref="LineageException">nothing or more than one candidate matches.</exception>
    public StoredCandidate Find(string idOrPrefix, string? run = null)
    {
        if (idOrPrefix.Length < 6)
        {
            throw new LineageException($"candidate '{idOrPrefix}': give at least 6 characters of the id");
        }

        var runs = run is null ? Runs() : [run];
        var matches = runs.SelectMany(r => Candidates(r)).Where(c => c.CandidateId.StartsWith(idOrPrefix, StringComparison.Ordinal)).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new LineageException($"no candidate {idOrPrefix} in {(run is null ? "any run" : $"run {run}")} of {Path}"),
            _ => throw new LineageException($"candidate prefix {idOrPrefix} is ambiguous: {string.Join(", ", matches.Select(m => $"{m.Run}/{m.CandidateId[..16]}"))}"),
        };
    }

    /// <summary>A file of a candidate's commit (architecture.json, Network.cs, README.md).</summary>
    public string ReadFile(string commitSha, string path)
    {
        lock (_gate)
        {
            var commit = _repository.Lookup<Commit>(commitSha) ?? throw new LineageException($"no commit {commitSha}");
            return commit[path]?.Target is Blob blob ? blob.GetContentText(Encoding.UTF8) : throw new LineageException($"commit {commitSha} has no file {path}");
        }
    }

    /// <summary>The full commit message of a commit.</summary>
    public string Message(string commitSha)
    {
        lock (_gate)
        {
            return (_repository.Lookup<Commit>(commitSha) ?? throw new LineageException($"no commit {commitSha}")).Message;
        }
    }

    /// <summary>The spec file of a candidate: the canonical form, indented, so its hash is the candidate id and diffs read well.</summary>
    public static string CanonicalSpecFile(ArchitectureSpec spec) => SpecJson.Write(Canonicalizer.Canonicalize(spec), includeName: false);

    private const string KnowledgeFile = "knowledge/attribute-tree.json";

    private static string Branch(string run, string candidateId) => LineageLayout.CandidateBranch(run, candidateId);

    private static string NotesNamespace(string run) => $"fairnad/{run}";

    private static Signature Signature(long seed, int index) =>
        new(LineageLayout.IdentityName, LineageLayout.IdentityEmail, LineageLayout.CommitTime(seed, index));

    private static string NormalisePath(string path)
    {
        var normal = path.Replace('\\', '/').TrimStart('/');
        return normal.Split('/').Any(p => p is "" or "." or ".." || p == ".git") ? throw new LineageException($"experiment path '{path}' must be a plain relative path") : normal;
    }

    private IEnumerable<Reference> CandidateRefs(string run) =>
        _repository.Refs.FromGlob(LineageLayout.BranchPrefix(run) + "*")
            .Where(r => r.CanonicalName != LineageLayout.RootBranch(run) && !r.CanonicalName[LineageLayout.BranchPrefix(run).Length..].Contains('/', StringComparison.Ordinal))
            .OrderBy(r => r.CanonicalName, StringComparer.Ordinal);

    private Commit RootCommit(string run) =>
        _repository.Lookup<Commit>(LineageLayout.RootBranch(run)) ?? throw new LineageException($"run {run} has no root commit; create the run first");

    /// <summary>The seed, experiment and lineage layout a run's root commit records.</summary>
    /// <exception cref="LineageException">the root records a layout this build does not write.</exception>
    private static (long Seed, string Experiment, int Format) RunInfo(Commit root)
    {
        var trailers = Trailers.Parse(root.Message).ToDictionary(t => t.Key, t => t.Value, StringComparer.Ordinal);
        var format = ParseFormat(trailers.GetValueOrDefault("Lineage-Format"))
            ?? throw new LineageException($"root commit {root.Sha[..12]}: Lineage-Format {trailers.GetValueOrDefault("Lineage-Format") ?? "(missing)"} is not a layout this build writes ({string.Join(", ", LineageLayout.Formats)})");
        return (long.Parse(trailers["Seed"], System.Globalization.CultureInfo.InvariantCulture), trailers["Experiment"], format);
    }

    /// <summary>A Lineage-Format trailer's value when it names a layout this build writes, else null.</summary>
    private static int? ParseFormat(string? text) =>
        int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var format)
        && LineageLayout.Invariant(format) == text && LineageLayout.Formats.Contains(format) ? format : null;

    private StoredCandidate? Read(Commit commit, string run)
    {
        var trailers = Trailers.Parse(commit.Message);
        string? One(string key) => trailers.Where(t => t.Key == key).Select(t => t.Value).FirstOrDefault();
        if (One("Candidate") is not { } id)
        {
            return null;
        }

        var branch = LineageLayout.CandidateBranch(run, id)["refs/heads/".Length..];
        return new StoredCandidate(
            run,
            id,
            commit.Sha,
            branch,
            int.TryParse(One("Index"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index) ? index : -1,
            trailers.Where(t => t.Key == "Parent-Candidate").Select(t => t.Value).ToList(),
            commit.Parents.Select(p => p.Sha).ToList(),
            One("Mutation-Type") ?? "unknown",
            One("Attribute"),
            One("LLM-Transcript"),
            long.TryParse(One("Seed"), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var seed) ? seed : 0,
            One("Experiment") ?? string.Empty,
            commit.MessageShort);
    }

    /// <summary>Writes the blobs, the tree and the commit of <paramref name="content"/>; refs are left to the caller.</summary>
    private Commit Write(CommitContent content, IEnumerable<Commit> parents)
    {
        var tree = new TreeDefinition();
        foreach (var (path, text) in content.Files)
        {
            tree.Add(path, Blob(text), Mode.NonExecutableFile);
        }

        return _repository.ObjectDatabase.CreateCommit(content.Signature, content.Signature, content.Message, _repository.ObjectDatabase.CreateTree(tree), parents, prettifyMessage: false);
    }

    private Blob Blob(string text)
    {
        using var stream = new MemoryStream(new UTF8Encoding(false).GetBytes(text));
        return _repository.ObjectDatabase.CreateBlob(stream);
    }

    private void SetRef(string name, ObjectId target, string what)
    {
        var existing = _repository.Refs[name];
        if (existing is null)
        {
            _repository.Refs.Add(name, target);
        }
        else if (existing.TargetIdentifier != target.Sha)
        {
            throw new LineageException($"{name} already records {what} as commit {existing.TargetIdentifier[..12]}, which differs from {target.Sha[..12]}; a run records each candidate once");
        }
    }
}
