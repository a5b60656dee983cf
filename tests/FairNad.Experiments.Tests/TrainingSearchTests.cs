using System.Diagnostics;

namespace FairNad.Experiments.Tests;

/// <summary>Searches that really train (tiny fidelity, in process): determinism across processes, and kill -9 then resume.</summary>
[Trait("Category", "Slow")]
public sealed class TrainingSearchTests : IDisposable
{
    private readonly SearchFixture _a = new();
    private readonly SearchFixture _b = new();

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    [Fact]
    public async Task Resume_AfterKill9MidRun_SameCandidatesCommitsAndMetricsAsUninterrupted()
    {
        var uninterrupted = SearchFixture.Run(_b.Request(train: true)).Single();
        var journal = Path.Combine(_a.Results, "tiny-fairnad-s0", "journal.jsonl");
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = _a.Root, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "fairnad.dll"), "search", "--experiment", _a.ExperimentPath, "--results", _a.Results, "--repo", _a.Root, "--plain" })
        {
            start.ArgumentList.Add(argument);
        }

        using (var child = Process.Start(start)!)
        {
            child.OutputDataReceived += (_, _) => { };
            child.ErrorDataReceived += (_, _) => { };
            child.BeginOutputReadLine();
            child.BeginErrorReadLine();
            var watch = Stopwatch.StartNew();
            while (Lines(journal) < 3)
            {
                Assert.False(child.HasExited, $"the search ended before it could be killed (exit {(child.HasExited ? child.ExitCode : 0)})");
                Assert.True(watch.Elapsed < TimeSpan.FromMinutes(5), "no third candidate within 5 minutes");
                await Task.Delay(50);
            }

            child.Kill(entireProcessTree: true);
            child.WaitForExit();
        }

        var killedAt = Lines(journal);
        Assert.InRange(killedAt, 3, 9);
        var replayed = 0;
        var resumed = SearchFixture.Run(_a.Request(resume: "tiny-fairnad-s0", train: true), p => replayed += p.Replayed ? 1 : 0).Single();

        Assert.Equal(killedAt, replayed);
        var expected = SearchFixture.Fingerprint(uninterrupted.Candidates);
        var actual = SearchFixture.Fingerprint(resumed.Candidates);
        Assert.True(expected.SequenceEqual(actual), $"killed after {killedAt}; differing:\n{string.Join("\n", expected.Zip(actual).Where(p => p.First != p.Second).Select(p => p.First + "\n" + p.Second))}");
        Assert.All(resumed.Candidates, c => Assert.Equal("ok", c.Status));
        Assert.Contains(resumed.Candidates, c => c.Validation > 20);
    }

    private static int Lines(string path)
    {
        if (!File.Exists(path))
        {
            return 0;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Count(c => c == '\n');
    }
}
