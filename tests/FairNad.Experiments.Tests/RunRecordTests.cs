using System.Diagnostics;
using FairNad.Evaluation.Training;
using FairNad.Lineage;

namespace FairNad.Experiments.Tests;

/// <summary>What resuming trusts: one writer per run (the lock), and records that agree (journal, result files, git).</summary>
public sealed class RunRecordTests : IDisposable
{
    private const string RunName = "tiny-fairnad-s0";

    private readonly SearchFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    private string RunDirectory => Path.Combine(_fixture.Results, RunName);

    private string JournalPath => Path.Combine(RunDirectory, RunJournal.FileName);

    /// <summary>A run cut off after five candidates, so resuming has something to trust and something left to do.</summary>
    private IReadOnlyList<CandidateRecord> Interrupted()
    {
        using var cancel = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => SearchFixture.Run(_fixture.Request(), p =>
        {
            if (p.Done == 5)
            {
                cancel.Cancel();
            }
        }, cancel.Token));
        return RunJournal.Read(JournalPath, RunName);
    }

    /// <summary>Rewrites the journal through <see cref="RunJournal"/> (so the hash chain holds) with one entry changed.</summary>
    private void RewriteJournal(Func<CandidateRecord, CandidateRecord> change)
    {
        var entries = RunJournal.Read(JournalPath, RunName).Select(change).ToList();
        File.Delete(JournalPath);
        using var journal = RunJournal.Open(JournalPath, RunName);
        entries.ForEach(e => journal.Append(e));
    }

    [Fact]
    public void Resume_JournalAccuracyEditedWithAValidChain_RefusedNamingTheCandidateAndTheThreeValues()
    {
        var entries = Interrupted();
        var victim = entries[2];
        RewriteJournal(e => e.Candidate == victim.Candidate ? e with { Validation = 91 } : e);
        var before = File.ReadAllText(JournalPath);

        var error = Assert.Throws<ExperimentException>(() => SearchFixture.Run(_fixture.Request(resume: RunName)));

        var recorded = victim.Validation!.Value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"candidate {victim.Candidate[..12]} (#{victim.Index}): validation accuracy differs: journal 91, candidates/{victim.Candidate}.json {recorded}, note {recorded}", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(JournalPath));
    }

    [Fact]
    public void Resume_ResultFileDeleted_Refused()
    {
        var victim = Interrupted()[1];
        File.Delete(RunAudit.ResultPath(RunDirectory, victim.Candidate));

        var error = Assert.Throws<ExperimentException>(() => SearchFixture.Run(_fixture.Request(resume: RunName)));

        Assert.Contains($"candidate {victim.Candidate[..12]} (#{victim.Index}): the journal records it, but candidates/{victim.Candidate}.json does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resume_NoteEdited_RefusedNamingTheNotesValue()
    {
        var victim = Interrupted()[3];
        using (var store = LineageStore.Open(_fixture.Root))
        {
            store.SetMetrics(RunName, victim.Candidate, new CandidateMetrics("ok", 12.5, victim.Test, victim.Parameters, victim.Macs));
        }

        var error = Assert.Throws<ExperimentException>(() => SearchFixture.Run(_fixture.Request(resume: RunName)));

        Assert.Contains($"candidate {victim.Candidate[..12]} (#{victim.Index}): validation accuracy differs", error.Message, StringComparison.Ordinal);
        Assert.Contains(", note 12.5", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resume_RecordsIntact_FinishesLikeAnUninterruptedRun()
    {
        using var other = new SearchFixture();
        var uninterrupted = SearchFixture.Run(other.Request()).Single();
        Interrupted();

        var resumed = SearchFixture.Run(_fixture.Request(resume: RunName)).Single();

        Assert.Equal(SearchFixture.Fingerprint(uninterrupted.Candidates), SearchFixture.Fingerprint(resumed.Candidates));
    }

    [Fact]
    public void Resume_WhileAnotherProcessHoldsTheRun_RefusedAndNothingWritten()
    {
        Interrupted();
        var before = File.ReadAllText(JournalPath);
        using var holder = RunLock.Acquire(RunDirectory, RunName);

        var error = Assert.Throws<ExperimentException>(() => SearchFixture.Run(_fixture.Request(resume: RunName)));

        Assert.Contains($"run '{RunName}' is in use by another fairnad process (pid {Environment.ProcessId} on {Environment.MachineName}", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(JournalPath));
    }

    [Fact]
    public void Acquire_HolderKilled_TheKernelReleasesTheLock()
    {
        Directory.CreateDirectory(RunDirectory);
        var path = Path.Combine(RunDirectory, RunLock.FileName);
        using var holder = Process.Start(new ProcessStartInfo("flock", ["-o", path, "sleep", "60"]) { UseShellExecute = false })!;
        var watch = Stopwatch.StartNew();
        while (!Held(path))
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), "flock did not take the lock");
            Thread.Sleep(20);
        }

        Assert.Throws<ExperimentException>(() => RunLock.Acquire(RunDirectory, RunName));
        holder.Kill(entireProcessTree: true);
        holder.WaitForExit();

        RunLock.Acquire(RunDirectory, RunName).Dispose();
        Assert.Contains($"pid {Environment.ProcessId}", File.ReadAllText(path), StringComparison.Ordinal); // .NET's reader takes a shared flock: read after releasing

    }

    [Fact]
    public void Acquire_ReleasedByDispose_NextAcquireSucceeds()
    {
        Directory.CreateDirectory(RunDirectory);
        RunLock.Acquire(RunDirectory, RunName).Dispose();

        using var again = RunLock.Acquire(RunDirectory, RunName);

        Assert.EndsWith(RunLock.FileName, again.Path, StringComparison.Ordinal);
    }

    private bool Held(string path)
    {
        try
        {
            RunLock.Acquire(RunDirectory, RunName).Dispose();
            return false;
        }
        catch (ExperimentException)
        {
            return File.Exists(path);
        }
    }
}
