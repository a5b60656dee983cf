using System.Diagnostics;
using LibGit2Sharp;

namespace FairNad.Lineage;

/// <summary>
/// Moves a run's lineage between repositories with the same commit ids: its branches <c>fairnad/&lt;run&gt;/*</c>, its
/// notes ref and, for a laddered run, the notes refs of its higher rungs (<see cref="LineageLayout.RungNotesRef"/>). Repository to repository goes through libgit2 (the receiving side fetches); a single-file
/// <c>git bundle</c> for publishing needs the git command-line client.
/// </summary>
public static class LineageTransfer
{
    public static IReadOnlyList<string> RefSpecs(string run) =>
        [$"+{LineageLayout.BranchPrefix(run)}*:{LineageLayout.BranchPrefix(run)}*", $"+{LineageLayout.NotesRef(run)}:{LineageLayout.NotesRef(run)}"];

    /// <summary>Copies a run from the repository at <paramref name="sourcePath"/> into <paramref name="destinationPath"/> (a bare repository is created there if needed).</summary>
    public static void Copy(string sourcePath, string destinationPath, string run)
    {
        LineageLayout.CheckRunName(run);
        using (var source = LineageStore.Open(sourcePath))
        {
            if (!source.Runs().Contains(run))
            {
                throw new LineageException($"{source.Path} has no run {run}");
            }
        }

        using var destination = LineageStore.Open(destinationPath, create: true);
        using var repository = new Repository(destination.Path);
        var specs = RefSpecs(run).ToList();
        using (var sourceRepository = new Repository(Repository.Discover(Path.GetFullPath(sourcePath))))
        {
            if (sourceRepository.Refs[LineageLayout.NotesRef(run)] is null)
            {
                specs.RemoveAt(1);
            }

            specs.AddRange(RungNotesRefs(sourceRepository.Refs.Select(r => r.CanonicalName), run).Select(r => $"+{r}:{r}"));
        }

        // libgit2 fetches from named remotes only: add one for the duration of the copy.
        const string remote = "fairnad-transfer";
        if (repository.Network.Remotes[remote] is not null)
        {
            repository.Network.Remotes.Remove(remote);
        }

        repository.Network.Remotes.Add(remote, Path.GetFullPath(sourcePath));
        try
        {
            Commands.Fetch(repository, remote, specs, new FetchOptions { TagFetchMode = TagFetchMode.None, Prune = false }, $"fairnad: copy run {run}");
        }
        catch (LibGit2SharpException e)
        {
            throw new LineageException($"copying run {run} from {sourcePath} to {destinationPath} failed: {e.Message}", e);
        }
        finally
        {
            repository.Network.Remotes.Remove(remote);
        }
    }

    /// <summary>Writes the run's branches and notes to one bundle file (git bundle create).</summary>
    public static void ExportBundle(string repositoryPath, string run, string bundlePath)
    {
        LineageLayout.CheckRunName(run);
        using var store = LineageStore.Open(repositoryPath);
        if (!store.Runs().Contains(run))
        {
            throw new LineageException($"{store.Path} has no run {run}");
        }

        var arguments = new List<string> { "--git-dir", store.Path, "bundle", "create", Path.GetFullPath(bundlePath), $"--branches=fairnad/{run}/*" };
        using (var repository = new Repository(store.Path))
        {
            if (repository.Refs[LineageLayout.NotesRef(run)] is not null)
            {
                arguments.Add(LineageLayout.NotesRef(run));
            }

            arguments.AddRange(RungNotesRefs(repository.Refs.Select(r => r.CanonicalName), run));
        }

        Git(arguments);
    }

    /// <summary>Reads a run's branches and notes from a bundle into the repository at <paramref name="repositoryPath"/> (created bare if needed).</summary>
    public static void ImportBundle(string bundlePath, string repositoryPath, string run)
    {
        LineageLayout.CheckRunName(run);
        if (!File.Exists(bundlePath))
        {
            throw new LineageException($"bundle {bundlePath} does not exist");
        }

        using var store = LineageStore.Open(repositoryPath, create: true);
        var heads = Git(["bundle", "list-heads", Path.GetFullPath(bundlePath)]);
        var specs = new List<string> { RefSpecs(run)[0] };
        if (heads.Contains(LineageLayout.NotesRef(run), StringComparison.Ordinal))
        {
            specs.Add(RefSpecs(run)[1]);
        }

        var listed = heads.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ', 2)).Where(p => p.Length == 2).Select(p => p[1].Trim());
        specs.AddRange(RungNotesRefs(listed, run).Select(r => $"+{r}:{r}"));

        Git(["--git-dir", store.Path, "fetch", "--no-tags", Path.GetFullPath(bundlePath), .. specs]);
    }

    /// <summary>The rung notes refs of <paramref name="run"/> among <paramref name="refs"/>, in rung order.</summary>
    private static IEnumerable<string> RungNotesRefs(IEnumerable<string> refs, string run)
    {
        const string prefix = "refs/notes/fairnad-rung";
        int? Rung(string name)
        {
            if (!name.StartsWith(prefix, StringComparison.Ordinal) || !name.EndsWith("/" + run, StringComparison.Ordinal) || name.Length <= prefix.Length + run.Length + 1)
            {
                return null;
            }

            var digits = name[prefix.Length..^(run.Length + 1)];
            return digits.All(char.IsAsciiDigit) && int.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var rung) &&
                LineageLayout.RungNotesRef(run, rung) == name ? rung : null;
        }

        return refs.Select(r => (Ref: r, Rung: Rung(r))).Where(x => x.Rung is not null).OrderBy(x => x.Rung).Select(x => x.Ref).ToList();
    }

    private static string Git(IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new LineageException("could not start git");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new LineageException("bundles need the git command-line client on PATH: " + e.Message, e);
        }

        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new LineageException($"git {string.Join(' ', arguments.Take(4))} failed ({process.ExitCode}): {error.Trim()}");
            }

            return output.Result;
        }
    }
}
