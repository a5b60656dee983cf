using FairNad.Build.Engine.Tooling;

namespace FairNad.Build.Tests.Engine;

public sealed class TestResultSummaryTests
{
    private const string Trx = """
        <?xml version="1.0" encoding="utf-8"?>
        <TestRun id="1" name="run" xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
          <Results>
            <UnitTestResult testName="A" outcome="Passed" />
            <UnitTestResult testName="B" outcome="Passed" />
            <UnitTestResult testName="C" outcome="Failed" />
            <UnitTestResult testName="D" outcome="NotExecuted" />
          </Results>
          <TestDefinitions>
            <UnitTest name="A" storage="/repo/tests/X.Tests/bin/Debug/net10.0/x.tests.dll" />
          </TestDefinitions>
        </TestRun>
        """;

    [Fact]
    public void FromTrx_MixedOutcomes_CountsEach()
    {
        var path = Path.Combine(Path.GetTempPath(), Path.GetRandomFileName() + ".trx");
        File.WriteAllText(path, Trx);
        try
        {
            var summary = TestResultSummary.FromTrx(path);

            Assert.Equal(new TestResultSummary("x.tests", 2, 1, 1), summary);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ToSummaryLine_Sum_IsThePlainLineCiReads()
    {
        var total = TestResultSummary.Sum([new("a", 2, 1, 0), new("b", 5, 0, 3)]);

        Assert.Equal("7 passed, 1 failed, 3 skipped", total.ToSummaryLine());
    }
}
