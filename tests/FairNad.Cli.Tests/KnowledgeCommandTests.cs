namespace FairNad.Cli.Tests;

using static Cli;

public sealed class KnowledgeCommandTests
{
    [Fact]
    public void Stats_CuratedTree_EveryCategoryListed()
    {
        var (code, output, _) = Run("knowledge", "stats");

        Assert.Equal(0, code);
        Assert.Contains("network.head-regularisation", output);
        Assert.Contains("realised by the operator library", output);
    }

    [Fact]
    public void Validate_CuratedTree_Valid()
    {
        var (code, output, _) = Run("knowledge", "validate");

        Assert.Equal(0, code);
        Assert.StartsWith("valid: ", output);
    }

    [Fact]
    public void Extract_LlmOffOrNothingRecorded_StopsWithNonZeroExit()
    {
        var directory = Directory.CreateTempSubdirectory("fairnad-cli-extract-").FullName;
        try
        {
            var off = Run("knowledge", "extract", "--llm", "off", "--out", directory);
            var replay = Run("knowledge", "extract", "--llm", "replay", "--out", directory);

            Assert.Equal(2, off.Code);
            Assert.Contains("the LLM is off", off.Error);
            Assert.Equal(2, replay.Code);
            Assert.Contains("no recorded transcripts", replay.Error);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
