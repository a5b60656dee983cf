namespace FairNad.Search;

/// <summary>
/// What a strategy learnt besides its proposals: feedback per attribute and category, and the mutations that produced no
/// candidate. A run writes them to feedback.json and its summary; strategies without such state do not implement it.
/// </summary>
public interface IStrategyDiagnostics
{
    FeedbackLedger Feedback { get; }

    IReadOnlyList<FailedMutation> FailedMutations { get; }

    /// <summary>Per mutation type, trials, successes and draw probability under adaptive selection (search rules 3); empty otherwise.</summary>
    IReadOnlyList<MutationCredit> MutationCredit { get; }
}
