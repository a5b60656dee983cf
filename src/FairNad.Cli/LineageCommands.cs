using System.Diagnostics;
using System.Globalization;
using FairNad.Architecture;
using FairNad.Lineage;

namespace FairNad.Cli;

/// <summary>`fairnad lineage ...`: read, check and move the git record of search runs.</summary>
internal static class LineageCommands
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static int Show(string repository, string candidate, string? run, string format, bool diff, TextWriter output)
    {
        using var store = Open(repository);
        var found = store.Find(candidate, run);
        var steps = LineageAudit.Chain(store, found, diff);
        output.Write(format switch
        {
            "markdown" => LineageAudit.Markdown(steps),
            "json" => LineageAudit.Json(steps),
            _ => throw new UsageException($"--format must be markdown or json, not '{format}'"),
        });
        return 0;
    }

    public static int List(string repository, string? run, TextWriter output)
    {
        using var store = Open(repository);
        if (run is null)
        {
            foreach (var name in store.Runs())
            {
                output.WriteLine(string.Create(Invariant, $"{name}\t{store.Candidates(name).Count} candidates"));
            }

            return 0;
        }

        if (!store.Runs().Contains(run))
        {
            throw new UsageException($"--run {run}: no such run in {store.Path} (runs: {(store.Runs().Count == 0 ? "none" : string.Join(", ", store.Runs()))})");
        }

        output.WriteLine($"{"#",4}  {"candidate",-12}  {"commit",-12}  {"mutation",-12}  {"val. acc.",9}  {"status",-8}  attribute");
        foreach (var c in store.Candidates(run))
        {
            var metrics = store.GetMetrics(run, c.Commit);
            output.WriteLine(string.Create(Invariant,
                $"{c.Index,4}  {c.CandidateId[..12]}  {c.Commit[..12]}  {c.MutationType,-12}  {(metrics?.ValidationAccuracy is { } a ? a.ToString("F2", Invariant) : "-"),9}  {metrics?.Status ?? "pending",-8}  {c.Attribute ?? "-"}"));
        }

        return 0;
    }

    /// <summary>Exit 0 when the run checks out, 1 with one line per problem otherwise.</summary>
    /// <summary>
    /// Exit 0 when the run checks out, 1 with one line per finding otherwise. With the run's folder under
    /// <paramref name="results"/>, the journal (hash chain included), the result documents and the notes are checked against
    /// each other and every journaled commit is recomputed from its journal line.
    /// </summary>
    public static int Verify(string repository, string run, string results, TextWriter output)
    {
        using var store = Open(repository);
        var problems = new List<string>();
        var archive = new FairNad.Experiments.RunArchive(Path.Combine(results, run), run);
        var runDirectory = archive.Directory;
        var journalPath = archive.JournalPath;
        IReadOnlyList<FairNad.Experiments.CandidateRecord>? journal = null;
        if (File.Exists(journalPath))
        {
            try
            {
                journal = FairNad.Experiments.RunJournal.Read(journalPath, run);
            }
            catch (FairNad.Experiments.ExperimentException e)
            {
                problems.Add(e.Message);
            }
        }

        problems.AddRange(journal is null
            ? store.Verify(run)
            : store.Verify(run, journal.Where(e => e.Rung == 0 && !e.IsNoise).Select(e => new RecordedCandidate(e.Index, e.Candidate, e.Commit, e.MutationType, e.Attribute, e.Parents, e.Transcript, e.Summary,
                new CandidateMetrics(e.Status, e.Validation, e.Test, e.Parameters, e.Macs))).ToList()));
        if (journal is not null)
        {
            problems.AddRange(FairNad.Experiments.RunAudit.CrossCheck(runDirectory, run, journal, store));
        }

        foreach (var problem in problems)
        {
            output.WriteLine(problem);
        }

        var checkedWhat = journal is null
            ? $"git only: no {journalPath}"
            : "commits, notes, the journal's hash chain, result documents";
        output.WriteLine(problems.Count == 0
            ? $"run {run}: {store.Candidates(run).Count} candidates verified ({checkedWhat})"
            : $"run {run}: {problems.Count} problem(s) ({checkedWhat})");
        return problems.Count == 0 ? 0 : 1;
    }

    public static int Export(string repository, string run, string destination, TextWriter output)
    {
        InputChecks.NotAFile(repository, "--repo", "a git repository (or a folder inside one)");
        if (destination.EndsWith(".bundle", StringComparison.Ordinal))
        {
            InputChecks.NotADirectory(destination, "--to", "a bundle file to write");
            LineageTransfer.ExportBundle(repository, run, destination);
        }
        else
        {
            InputChecks.NotAFile(destination, "--to", "a repository folder (created bare if missing) or a file ending in .bundle");
            LineageTransfer.Copy(repository, destination, run);
        }

        output.WriteLine($"exported run {run} to {destination}");
        return 0;
    }

    public static int Import(string repository, string run, string source, TextWriter output, bool ifMissing = false)
    {
        InputChecks.NotAFile(repository, "--repo", "a git repository (created bare if missing)");
        if (!File.Exists(source) && !Directory.Exists(source))
        {
            throw new UsageException($"--from {source} does not exist; expected a repository folder or a .bundle file");
        }

        // An import is a forced fetch: over a run the repository already holds it would move the notes ref back to the
        // copy's, dropping the metrics of every candidate recorded since. --if-missing is the safe form for restoring a
        // run into a fresh clone (./build.sh Compare does this before resuming).
        if (ifMissing && Directory.Exists(repository))
        {
            LineageStore? existing = null;
            try
            {
                existing = LineageStore.Open(repository);
            }
            catch (LineageException)
            {
                // Not a repository yet: the import creates a bare one.
            }

            using (existing)
            {
                if (existing is not null && existing.Runs().Contains(run, StringComparer.Ordinal))
                {
                    output.WriteLine($"run {run} is already in {existing.Path}: left as it is (--if-missing)");
                    return 0;
                }
            }
        }

        if (File.Exists(source))
        {
            LineageTransfer.ImportBundle(source, repository, run);
        }
        else
        {
            LineageTransfer.Copy(source, repository, run);
        }

        output.WriteLine($"imported run {run} from {source}");
        return 0;
    }

    /// <summary>
    /// `fairnad bench lineage`: writes <paramref name="count"/> NB201 candidates (spec + generated code + README, and a
    /// metrics note) into a fresh bare repository, each the child of an earlier one, and reports how the cost per
    /// candidate changes as branches accumulate.
    /// </summary>
    public static int Bench(int count, int segment, string? repository, TextWriter output, TextWriter log)
    {
        var path = repository ?? Directory.CreateTempSubdirectory("fairnad-lineage-bench-").FullName;
        var temporary = repository is null;
        try
        {
            using var store = LineageStore.Open(path, create: true);
            const string run = "bench";
            store.CreateRun(new RunManifest(run, 0, "experiments/bench.json", "{}\n", null));
            var cells = Nb201.AllCells().ToList();
            var ids = new List<string>();
            var watch = Stopwatch.StartNew();
            var segmentStart = TimeSpan.Zero;
            double add = 0, note = 0;
            var lap = new Stopwatch();
            output.WriteLine($"repository  {store.Path}");
            output.WriteLine($"{"candidates",12}  {"ms per candidate (commit + note)",34}  {"of which note",13}");
            for (var i = 0; i < count; i++)
            {
                // Step through the space with a stride coprime to 15,625 so consecutive candidates differ.
                var spec = Nb201.ToSpec(cells[(int)((i * 7919L) % cells.Count)], Nb201.InputFor("cifar10"));
                var parents = ids.Count == 0 ? Array.Empty<string>() : [ids[(int)((i * 31L) % ids.Count)]];
                lap.Restart();
                var stored = store.Add(run, new CandidateEntry(i, spec, parents, ids.Count == 0 ? "seed" : "random", null, null, $"cell {i}"));
                add += lap.Elapsed.TotalMilliseconds;
                lap.Restart();
                store.SetMetrics(run, stored.CandidateId, new CandidateMetrics("ok", 80 + (i % 100 / 10.0), null, ArchitectureAnalyzer.Analyze(spec).Parameters));
                note += lap.Elapsed.TotalMilliseconds;
                ids.Add(stored.CandidateId);
                if ((i + 1) % segment == 0 || i + 1 == count)
                {
                    var elapsed = watch.Elapsed - segmentStart;
                    var n = (i % segment) + 1;
                    output.WriteLine(string.Create(Invariant, $"{i + 1,12:N0}  {elapsed.TotalMilliseconds / n,34:F2}  {note / n,13:F2}"));
                    segmentStart = watch.Elapsed;
                    add = note = 0;
                    log.Flush();
                }
            }

            var total = watch.Elapsed;
            lap.Restart();
            var listed = store.Candidates(run).Count;
            var list = lap.Elapsed;
            lap.Restart();
            var problems = store.Verify(run).Count;
            var verify = lap.Elapsed;
            output.WriteLine(string.Create(Invariant, $"total       {count:N0} candidates in {total.TotalSeconds:F2} s ({total.TotalMilliseconds / count:F2} ms each)"));
            output.WriteLine(string.Create(Invariant, $"list        {listed:N0} candidates in {list.TotalMilliseconds:F0} ms; verify (re-hash spec, regenerate code, parents, notes) in {verify.TotalSeconds:F2} s, {problems} problem(s)"));
            output.WriteLine(string.Create(Invariant, $"size        {DirectorySize(store.Path) / 1024.0 / 1024.0:F1} MiB on disk (loose objects, no gc)"));
            return problems == 0 ? 0 : 1;
        }
        finally
        {
            if (temporary)
            {
                Directory.Delete(path, recursive: true);
            }
        }
    }

    /// <summary>The lineage store at or above <paramref name="repository"/> (the --repo option).</summary>
    private static LineageStore Open(string repository)
    {
        InputChecks.NotAFile(repository, "--repo", "a git repository (or a folder inside one)");
        return LineageStore.Open(repository);
    }

    private static long DirectorySize(string path) => new DirectoryInfo(path).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
}
