
module.exports = { Mailroom, Batch, LookupFixtures, MailroomError };
