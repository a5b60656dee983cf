using Xunit;

namespace FairNad.Experiments.Tests;

public sealed class RunArchiveManifestTests
{
    [Fact]
    public void RecordedExperimentPath_FolderWithoutManifest_NamesManifestAndRun()
    {
        var directory = Directory.CreateTempSubdirectory("fairnad-archive-").FullName;
        try
        {
            var run = Path.Combine(directory, "stopped-run");
            Directory.CreateDirectory(run);
            File.WriteAllText(Path.Combine(run, "experiment.json"), "{}");
            var archive = new RunArchive(run);

            var error = Assert.Throws<ExperimentException>(archive.RecordedExperimentPath);

            Assert.Contains(archive.ManifestPath, error.Message, StringComparison.Ordinal);
            Assert.Contains("'stopped-run'", error.Message, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(run, "experiment.json")), "the recorded experiment copy is kept");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void RecordedExperimentPath_ManifestWithoutExperiment_Throws()
    {
        var directory = Directory.CreateTempSubdirectory("fairnad-archive-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(directory, "manifest.json"), "{\"run\": \"x\"}");
            var archive = new RunArchive(directory);
            Assert.Throws<ExperimentException>(archive.RecordedExperimentPath);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
