using System.Text.Json;

namespace FairNad.Experiments.Tests;

public sealed class RunJournalTests : IDisposable
{
    private const string Run = "demo";

    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-journal-").FullName;

    private string JournalPath => Path.Combine(_directory, RunJournal.FileName);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static CandidateRecord Entry(int index) => new(index, $"id{index:D3}" + new string('0', 58), "seed", null, null, [], null, "s", "ok", 50 + index, 49, 1000, 2000, 1.5,
        null, null, new string('a', 40), 1.0, index);

    private void Write(params int[] indices)
    {
        using var journal = RunJournal.Open(JournalPath, Run);
        foreach (var index in indices)
        {
            journal.Append(Entry(index));
        }
    }

    [Fact]
    public void Open_AfterAppends_ReadsEveryEntryChained()
    {
        Write(0, 1);

        using var reopened = RunJournal.Open(JournalPath, Run);

        Assert.Equal(2, reopened.Entries.Count);
        Assert.Equal(51, reopened.Entries[Entry(1).Candidate].Validation);
        Assert.Equal(RunJournal.Genesis(Run), reopened.Entries[Entry(0).Candidate].Previous);
        Assert.Null(reopened.Repaired);
    }

    [Fact]
    public void Append_FirstEvaluation_LineHasNoRungFieldsAndLaterRungsAndNoiseSeedsHaveTheirOwnKeys()
    {
        using (var journal = RunJournal.Open(JournalPath, Run))
        {
            journal.Append(Entry(0));
            journal.Append(Entry(0) with { Rung = 1 });
            journal.Append(Entry(0) with { Rung = 1, NoiseSeed = 2 });
        }

        var lines = File.ReadAllLines(JournalPath);

        // A run without a ladder writes the lines (and so the hash chain) it always wrote: the fields end with "ok".
        Assert.EndsWith($"\"elapsedSeconds\":0,\"previous\":\"{RunJournal.Genesis(Run)}\",\"ok\":true}}", lines[0], StringComparison.Ordinal);
        Assert.EndsWith("\",\"rung\":1,\"ok\":true}", lines[1], StringComparison.Ordinal);
        Assert.EndsWith("\",\"rung\":1,\"noiseSeed\":2,\"ok\":true}", lines[2], StringComparison.Ordinal);
        using var reopened = RunJournal.Open(JournalPath, Run);
        var id = Entry(0).Candidate;
        Assert.Equal([id, id + "@r1", id + "@r1s2"], reopened.Entries.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(1, reopened.Entries[id + "@r1"].Rung);
    }

    [Fact]
    public void Open_SameRungRecordedTwice_ErrorNamesTheLineAndRung()
    {
        File.WriteAllText(JournalPath, string.Empty);
        using (var journal = RunJournal.Open(JournalPath, Run))
        {
            journal.Append(Entry(0) with { Rung = 1 });
            journal.Append(Entry(0) with { Rung = 1 });
        }

        var e = Assert.Throws<ExperimentException>(() => RunJournal.Read(JournalPath, Run));

        Assert.Contains("line 2 records candidate id0000000000 (@r1) again (first on line 1)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_TornLastLine_CutOffReportedAndTheChainContinues()
    {
        Write(0);
        File.AppendAllText(JournalPath, "{\"index\":1,\"candid");

        using (var reopened = RunJournal.Open(JournalPath, Run))
        {
            Assert.Single(reopened.Entries);
            Assert.Contains("line 2 was cut off mid-write", reopened.Repaired, StringComparison.Ordinal);
            reopened.Append(Entry(2));
        }

        Assert.Equal(2, File.ReadAllLines(JournalPath).Length);
        Assert.Equal(2, RunJournal.Read(JournalPath, Run).Count);
    }

    [Fact]
    public void Open_GarbageCompleteLastLine_ErrorNamesTheLine()
    {
        Write(0);
        File.AppendAllText(JournalPath, "garbage\n");

        var e = Assert.Throws<ExperimentException>(() => RunJournal.Open(JournalPath, Run));

        Assert.Contains("journal.jsonl: line 2 is not a journal entry", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_EditedAccuracy_ChainBreaksAtTheNextLine()
    {
        Write(0, 1, 2);
        var lines = File.ReadAllLines(JournalPath);
        lines[0] = lines[0].Replace("\"validation\":50", "\"validation\":91", StringComparison.Ordinal);
        File.WriteAllLines(JournalPath, lines);

        var e = Assert.Throws<ExperimentException>(() => RunJournal.Open(JournalPath, Run));

        Assert.Contains("line 2 (candidate id0010000000) does not follow line 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_EditedLastLine_ItsOwnHashStillNamesNoLineButTheResumeCrossCheckCatchesIt()
    {
        // The chain protects every line but the last from edits; the last is checked against the result file and the note.
        Write(0, 1);
        var lines = File.ReadAllLines(JournalPath);
        lines[1] = lines[1].Replace("\"validation\":51", "\"validation\":91", StringComparison.Ordinal);
        File.WriteAllLines(JournalPath, lines);

        Assert.Equal(91, RunJournal.Read(JournalPath, Run).Single(e => e.Index == 1).Validation);
    }

    [Fact]
    public void Open_RemovedLine_ChainBreaks()
    {
        Write(0, 1, 2);
        File.WriteAllLines(JournalPath, File.ReadAllLines(JournalPath).Where((_, i) => i != 1));

        var e = Assert.Throws<ExperimentException>(() => RunJournal.Open(JournalPath, Run));

        Assert.Contains("line 2 (candidate id0020000000) does not follow line 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_OtherRunsJournal_FirstLineDoesNotFollowTheStart()
    {
        Write(0);

        var e = Assert.Throws<ExperimentException>(() => RunJournal.Open(JournalPath, "other"));

        Assert.Contains("does not follow the start of run other", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_LineWithoutChain_RefusedAsOlderFormat()
    {
        File.WriteAllText(JournalPath, JsonSerializer.Serialize(Entry(0), RunJournal.Json) + "\n");

        var e = Assert.Throws<ExperimentException>(() => RunJournal.Open(JournalPath, Run));

        Assert.Contains("line 1 has no hash chain", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_CandidateRecordedTwice_Refused()
    {
        using (var journal = RunJournal.Open(JournalPath, Run))
        {
            journal.Append(Entry(0));
            journal.Append(Entry(0) with { Index = 1 });
        }

        var e = Assert.Throws<ExperimentException>(() => RunJournal.Open(JournalPath, Run));

        Assert.Contains("line 2 records candidate id0000000000 again (first on line 1)", e.Message, StringComparison.Ordinal);
    }
}
