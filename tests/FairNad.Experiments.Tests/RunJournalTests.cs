namespace FairNad.Experiments.Tests;

public sealed class RunJournalTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-journal-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static JournalEntry Entry(int index) => new(index, $"id{index:D3}" + new string('0', 58), "seed", null, null, [], null, "s", "ok", 50 + index, 49, 1000, 2000, 1.5,
        null, null, new string('a', 40), 1.0, index);

    [Fact]
    public void Open_AfterAppends_ReadsEveryEntry()
    {
        var path = Path.Combine(_directory, "journal.jsonl");
        using (var journal = RunJournal.Open(path))
        {
            journal.Append(Entry(0));
            journal.Append(Entry(1));
        }

        using var reopened = RunJournal.Open(path);

        Assert.Equal(2, reopened.Entries.Count);
        Assert.Equal(51, reopened.Entries[Entry(1).Candidate].Validation);
    }

    [Fact]
    public void Open_TornLastLine_IgnoredAndTruncated()
    {
        var path = Path.Combine(_directory, "journal.jsonl");
        using (var journal = RunJournal.Open(path))
        {
            journal.Append(Entry(0));
        }

        File.AppendAllText(path, "{\"index\":1,\"candid");

        using (var reopened = RunJournal.Open(path))
        {
            Assert.Single(reopened.Entries);
            reopened.Append(Entry(2));
        }

        Assert.Equal(2, File.ReadAllLines(path).Length);
        using var again = RunJournal.Open(path);
        Assert.Equal(2, again.Entries.Count);
    }

    [Fact]
    public void Open_DamagedMiddleLine_ErrorNamesFileAndLine()
    {
        var path = Path.Combine(_directory, "journal.jsonl");
        using (var journal = RunJournal.Open(path))
        {
            journal.Append(Entry(0));
        }

        File.AppendAllText(path, "garbage\n");
        using (var journal = RunJournal.Open(path + ".2"))
        {
            journal.Append(Entry(1));
        }

        File.AppendAllText(path, File.ReadAllText(path + ".2"));

        var e = Assert.Throws<ExperimentException>(() => RunJournal.Open(path));

        Assert.Contains("journal.jsonl: line 2 is not a journal entry", e.Message, StringComparison.Ordinal);
    }
}
