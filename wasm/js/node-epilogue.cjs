
module.exports = { Mailroom, Batch, MailroomError };
